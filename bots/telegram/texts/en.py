"""The Telegram bot's texts in English."""

EN: dict[str, str] = {
    "welcome": (
        "Hi {name}! Send me a photo or a video and a voice, and I send back a lip-synced "
        "video.\n\n"
        "🗣 Talking portrait: send a photo, then a voice note (or an audio file, or a video "
        "with sound).\n"
        "🎬 Dubbing: send a video or a round video note, then the new voice.\n"
        "👥 Duet: /duet, then a photo of two people and a voice for each.\n"
        "⌨️ No recording? Wherever I wait for a voice, type what the person should say instead.\n\n"
        "You have {balance} credits. /help lists every command."
    ),
    "help": (
        "How it works:\n"
        "🗣 Talking portrait: send a photo, then a voice note (or an audio file, or a video "
        "with sound).\n"
        "🎬 Dubbing: send a video or a round video note, then the new voice.\n"
        "👥 Duet: /duet, then a photo of two people, the left voice and the right voice.\n"
        "⌨️ No recording? Wherever I wait for a voice, type what the person should say instead.\n"
        "You pick the resolution and see the price before anything is charged.\n\n"
        "/balance: your credits\n"
        "/history: your last videos\n"
        "/buy: credits for Telegram Stars\n"
        "/cancel: forget the current request or stop a video in progress\n\n"
        "{prices}"
    ),
    "prices": (
        "Price: {rate_480} credits per second at 480p, {rate_720} at 720p; every video counts "
        "at least {min_seconds} s."
    ),
    "ask_voice.portrait": (
        "Nice photo! Now send the voice: a voice note, an audio file or a video with "
        "sound, or type what the person should say."
    ),
    "ask_voice.dub": (
        "Got the video. Now send the new voice: a voice note, an audio file or a video "
        "with sound, or type what the person should say."
    ),
    "duet.ask_photo": "Duet: send a photo with two people side by side.",
    "duet.ask_left": "Now the voice of the person on the left (or type what they should say).",
    "duet.ask_right": (
        "And now the voice of the person on the right (or type what they should say)."
    ),
    "duet.ask_order": "Who speaks when?",
    "order.meanwhile": "Together",
    "order.left_right": "Left first",
    "order.right_left": "Right first",
    "ask_resolution": "Which resolution?",
    "what.portrait": "Talking portrait",
    "what.dub": "Dubbed video",
    "what.duet": "Duet",
    "confirm": (
        "{what}, {resolution}, {seconds} s.\n"
        "Price: {credits} credits. Your balance: {balance} credits."
    ),
    "confirm_short": "You need {missing} more credits: /buy",
    "button.confirm": "✅ Make it",
    "button.cancel": "✖ Cancel",
    "button.stop": "✖ Stop",
    "insufficient": (
        "Not enough credits: this video costs {credits} credits and you have {balance}. "
        "Get more with /buy, then tap ✅ again."
    ),
    "rate_limited": (
        "That is more videos than you can start in a minute ({limit}). Wait {seconds} s, "
        "then tap ✅ again."
    ),
    "queued": "⏳ Waiting for a free renderer…",
    "progress": "⏳ {stage}: {percent}%",
    "stage.starting": "Starting",
    "stage.speaking": "Speaking your text",
    "stage.decoding": "Reading your files",
    "stage.finding faces": "Finding faces",
    "stage.tracking faces": "Following the face",
    "stage.choosing mouths": "Choosing mouth shapes",
    "stage.analysing speech": "Listening to the voice",
    "stage.rendering": "Animating",
    "stage.encoding": "Encoding",
    "stage.other": "Working",
    "done": "✅ Done! {credits} credits charged; your balance is {balance}.",
    "caption": "{what} · {seconds} s",
    "link": (
        "The video is {size} MB, more than the {limit} MB a bot may send here, so here is a "
        "link: {url}"
    ),
    "no_face.lipsync-image": (
        "😕 I couldn't find a face in that photo. Try a clear, front-facing photo. "
        "Nothing was charged."
    ),
    "no_face.lipsync-image-multi": (
        "😕 I need a photo with two faces side by side. Nothing was charged."
    ),
    "no_face.lipsync-video": "😕 I couldn't find a face in that video. Nothing was charged.",
    "failed": "😕 I couldn't make this video: {reason}\nNothing was charged.",
    "canceled": "✖ Canceled. Nothing was charged.",
    "timeout": "This is taking unusually long; /history will show how it ends.",
    "too_big.cloud": (
        "This file is {size} MB. Bots on Telegram's cloud Bot API can only download files up "
        "to {limit} MB, so I can't fetch it. Please send a shorter or more compressed file. "
        "(Whoever runs this bot can lift the limit with a local Bot API server.)"
    ),
    "too_big.local": (
        "This file is {size} MB; I can fetch at most {limit} MB. Please send a shorter or "
        "more compressed file."
    ),
    "too_big.cloud_unknown": (
        "This file is over the {limit} MB that bots on Telegram's cloud Bot API can download, "
        "so I can't fetch it. Please send a shorter or more compressed file. (Whoever runs "
        "this bot can lift the limit with a local Bot API server.)"
    ),
    "too_big.local_unknown": (
        "This file is too big: I can fetch at most {limit} MB. Please send a shorter or more "
        "compressed file."
    ),
    "unsupported": (
        "I can't use this kind of file. Send a photo (JPEG, PNG, WebP), a video (MP4, MOV, "
        "WebM) or a voice (a voice note, MP3, WAV, OGG, M4A)."
    ),
    "bad_file": "I couldn't use that file: {reason}",
    "bad_text": "I can't speak that text: {reason}",
    "confirm_voice": "🗣 Voice: {voice}. Another one? Tap it below.",
    "voice.en-us": "English (US)",
    "voice.en-gb": "English (UK)",
    "voice.es": "Spanish",
    "voice.tr": "Turkish",
    "voice.ko": "Korean",
    "voice.ja": "Japanese",
    "no_sound": (
        "This video has no sound, so it can't be the voice. Send a voice note, an audio file "
        "or a video with sound."
    ),
    "need_media_first": (
        "First send a photo (talking portrait) or a video (dubbing), then the voice. "
        "For two people, use /duet."
    ),
    "duet.need_photo": "For the duet I need the photo first: two people side by side.",
    "use_buttons": "Please answer with the buttons above, or /cancel to start over.",
    "stale": "This request is no longer active.",
    "forgotten": "OK, forgotten. Send a photo or a video whenever you like.",
    "stopping": "Stopping {count} video(s) in progress; nothing is charged for them.",
    "nothing_to_cancel": "There is nothing to cancel.",
    "balance": "You have {balance} credits.",
    "history.empty": "You haven't made any videos yet.",
    "history.head": "Your last videos:",
    "status.queued": "waiting",
    "status.processing": "in progress",
    "status.completed": "{credits} credits",
    "status.failed": "failed, nothing charged",
    "status.canceled": "canceled, nothing charged",
    "buy.choose": "Choose a pack. You pay with Telegram Stars ⭐.",
    "buy.button": "{credits} credits: {stars} ⭐",
    "invoice.title": "{credits} credits",
    "invoice.description": "{credits} credits for lip-synced videos: about {seconds} s at 480p.",
    "paid": "⭐ Thank you! {credits} credits added. Your balance: {balance}.",
    "paid_already": "This payment was already credited. Your balance: {balance}.",
    "offer_gone": "This offer is no longer available. Please use /buy again.",
    "grant.usage": "Usage: /grant <Telegram user id> <credits>",
    "granted": "Granted {credits} credits to {user}. Their balance: {balance}.",
    "admins_only": "Only the bot's admins can do that.",
    "error": "Something went wrong on my side. Nothing was charged; please try again.",
    "cmd.start": "Start and see how it works",
    "cmd.help": "How to use the bot",
    "cmd.duet": "A video of two people talking",
    "cmd.balance": "Your credits",
    "cmd.history": "Your last videos",
    "cmd.buy": "Buy credits with Telegram Stars",
    "cmd.cancel": "Forget the current request or stop a video",
}
