"""Everything the Telegram bot says, in the five languages of the seeds.

The bot answers in the user's Telegram language when it is one of these (English, Spanish,
Turkish, Korean, Japanese) and in English otherwise. Every language has every key with the
same placeholders (a test checks), so a missing translation cannot surface as a crash in
the middle of a conversation. Engine error messages stay English: they are inserted as
`{reason}` into a sentence in the user's language.
"""

from __future__ import annotations

from telegram import User

from bots.shared import pick_language

LANGUAGES = ("en", "es", "tr", "ko", "ja")

EN: dict[str, str] = {
    "welcome": (
        "Hi {name}! Send me a photo or a video and a voice, and I send back a lip-synced "
        "video.\n\n"
        "🗣 Talking portrait: send a photo, then a voice note (or an audio file, or a video "
        "with sound).\n"
        "🎬 Dubbing: send a video or a round video note, then the new voice.\n"
        "👥 Duet: /duet, then a photo of two people and a voice for each.\n\n"
        "You have {balance} credits. /help lists every command."
    ),
    "help": (
        "How it works:\n"
        "🗣 Talking portrait: send a photo, then a voice note (or an audio file, or a video "
        "with sound).\n"
        "🎬 Dubbing: send a video or a round video note, then the new voice.\n"
        "👥 Duet: /duet, then a photo of two people, the left voice and the right voice.\n"
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
        "Nice photo! Now send the voice: a voice note, an audio file or a video with sound."
    ),
    "ask_voice.dub": (
        "Got the video. Now send the new voice: a voice note, an audio file or a video with sound."
    ),
    "duet.ask_photo": "Duet: send a photo with two people side by side.",
    "duet.ask_left": "Now the voice of the person on the left.",
    "duet.ask_right": "And now the voice of the person on the right.",
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

ES: dict[str, str] = {
    "welcome": (
        "¡Hola, {name}! Envíame una foto o un vídeo y una voz, y te devuelvo un vídeo con "
        "los labios sincronizados.\n\n"
        "🗣 Retrato parlante: envía una foto y luego una nota de voz (o un archivo de audio, "
        "o un vídeo con sonido).\n"
        "🎬 Doblaje: envía un vídeo o una videonota redonda y luego la nueva voz.\n"
        "👥 Dúo: /duet, luego una foto de dos personas y una voz para cada una.\n\n"
        "Tienes {balance} créditos. /help muestra todos los comandos."
    ),
    "help": (
        "Cómo funciona:\n"
        "🗣 Retrato parlante: envía una foto y luego una nota de voz (o un archivo de audio, "
        "o un vídeo con sonido).\n"
        "🎬 Doblaje: envía un vídeo o una videonota redonda y luego la nueva voz.\n"
        "👥 Dúo: /duet, luego una foto de dos personas, la voz de la izquierda y la de la "
        "derecha.\n"
        "Eliges la resolución y ves el precio antes de que se cobre nada.\n\n"
        "/balance: tus créditos\n"
        "/history: tus últimos vídeos\n"
        "/buy: créditos con Telegram Stars\n"
        "/cancel: olvidar la petición actual o detener un vídeo en curso\n\n"
        "{prices}"
    ),
    "prices": (
        "Precio: {rate_480} créditos por segundo en 480p, {rate_720} en 720p; cada vídeo "
        "cuenta al menos {min_seconds} s."
    ),
    "ask_voice.portrait": (
        "¡Bonita foto! Ahora envía la voz: una nota de voz, un archivo de audio o un vídeo "
        "con sonido."
    ),
    "ask_voice.dub": (
        "Recibí el vídeo. Ahora envía la nueva voz: una nota de voz, un archivo de audio o un "
        "vídeo con sonido."
    ),
    "duet.ask_photo": "Dúo: envía una foto con dos personas una al lado de la otra.",
    "duet.ask_left": "Ahora la voz de la persona de la izquierda.",
    "duet.ask_right": "Y ahora la voz de la persona de la derecha.",
    "duet.ask_order": "¿Quién habla cuándo?",
    "order.meanwhile": "A la vez",
    "order.left_right": "Primero la izquierda",
    "order.right_left": "Primero la derecha",
    "ask_resolution": "¿Qué resolución?",
    "what.portrait": "Retrato parlante",
    "what.dub": "Vídeo doblado",
    "what.duet": "Dúo",
    "confirm": (
        "{what}, {resolution}, {seconds} s.\n"
        "Precio: {credits} créditos. Tu saldo: {balance} créditos."
    ),
    "confirm_short": "Te faltan {missing} créditos: /buy",
    "button.confirm": "✅ Hacerlo",
    "button.cancel": "✖ Cancelar",
    "button.stop": "✖ Detener",
    "insufficient": (
        "No tienes créditos suficientes: este vídeo cuesta {credits} créditos y tienes "
        "{balance}. Consigue más con /buy y vuelve a pulsar ✅."
    ),
    "rate_limited": (
        "Son más vídeos de los que puedes empezar en un minuto ({limit}). Espera {seconds} s "
        "y vuelve a pulsar ✅."
    ),
    "queued": "⏳ Esperando un renderizador libre…",
    "progress": "⏳ {stage}: {percent}%",
    "stage.starting": "Empezando",
    "stage.decoding": "Leyendo tus archivos",
    "stage.finding faces": "Buscando caras",
    "stage.tracking faces": "Siguiendo la cara",
    "stage.choosing mouths": "Eligiendo formas de boca",
    "stage.analysing speech": "Escuchando la voz",
    "stage.rendering": "Animando",
    "stage.encoding": "Codificando",
    "stage.other": "Trabajando",
    "done": "✅ ¡Listo! Se cobraron {credits} créditos; tu saldo es {balance}.",
    "caption": "{what} · {seconds} s",
    "link": (
        "El vídeo pesa {size} MB, más de los {limit} MB que un bot puede enviar aquí, así que "
        "aquí tienes un enlace: {url}"
    ),
    "no_face.lipsync-image": (
        "😕 No encontré ninguna cara en esa foto. Prueba con una foto nítida y de frente. "
        "No se cobró nada."
    ),
    "no_face.lipsync-image-multi": (
        "😕 Necesito una foto con dos caras una al lado de la otra. No se cobró nada."
    ),
    "no_face.lipsync-video": "😕 No encontré ninguna cara en ese vídeo. No se cobró nada.",
    "failed": "😕 No pude hacer este vídeo: {reason}\nNo se cobró nada.",
    "canceled": "✖ Cancelado. No se cobró nada.",
    "timeout": "Esto está tardando más de lo normal; /history mostrará cómo termina.",
    "too_big.cloud": (
        "Este archivo pesa {size} MB. Los bots de la Bot API en la nube de Telegram solo "
        "pueden descargar archivos de hasta {limit} MB, así que no puedo obtenerlo. Envía un "
        "archivo más corto o más comprimido. (Quien administra este bot puede quitar el límite "
        "con un servidor local de la Bot API.)"
    ),
    "too_big.local": (
        "Este archivo pesa {size} MB; puedo descargar como máximo {limit} MB. Envía un archivo "
        "más corto o más comprimido."
    ),
    "too_big.cloud_unknown": (
        "Este archivo supera los {limit} MB que los bots de la Bot API en la nube de Telegram "
        "pueden descargar, así que no puedo obtenerlo. Envía un archivo más corto o más "
        "comprimido. (Quien administra este bot puede quitar el límite con un servidor local "
        "de la Bot API.)"
    ),
    "too_big.local_unknown": (
        "Este archivo es demasiado grande: puedo descargar como máximo {limit} MB. Envía un "
        "archivo más corto o más comprimido."
    ),
    "unsupported": (
        "No puedo usar este tipo de archivo. Envía una foto (JPEG, PNG, WebP), un vídeo (MP4, "
        "MOV, WebM) o una voz (nota de voz, MP3, WAV, OGG, M4A)."
    ),
    "bad_file": "No pude usar ese archivo: {reason}",
    "no_sound": (
        "Este vídeo no tiene sonido, así que no puede ser la voz. Envía una nota de voz, un "
        "archivo de audio o un vídeo con sonido."
    ),
    "need_media_first": (
        "Primero envía una foto (retrato parlante) o un vídeo (doblaje) y luego la voz. "
        "Para dos personas, usa /duet."
    ),
    "duet.need_photo": "Para el dúo necesito primero la foto: dos personas una al lado de la otra.",
    "use_buttons": "Responde con los botones de arriba, o usa /cancel para empezar de nuevo.",
    "stale": "Esta petición ya no está activa.",
    "forgotten": "De acuerdo, olvidado. Envía una foto o un vídeo cuando quieras.",
    "stopping": "Deteniendo {count} vídeo(s) en curso; no se cobra nada por ellos.",
    "nothing_to_cancel": "No hay nada que cancelar.",
    "balance": "Tienes {balance} créditos.",
    "history.empty": "Todavía no has hecho ningún vídeo.",
    "history.head": "Tus últimos vídeos:",
    "status.queued": "en espera",
    "status.processing": "en curso",
    "status.completed": "{credits} créditos",
    "status.failed": "falló, no se cobró nada",
    "status.canceled": "cancelado, no se cobró nada",
    "buy.choose": "Elige un paquete. Pagas con Telegram Stars ⭐.",
    "buy.button": "{credits} créditos: {stars} ⭐",
    "invoice.title": "{credits} créditos",
    "invoice.description": (
        "{credits} créditos para vídeos con labios sincronizados: unos {seconds} s en 480p."
    ),
    "paid": "⭐ ¡Gracias! Se añadieron {credits} créditos. Tu saldo: {balance}.",
    "paid_already": "Este pago ya estaba abonado. Tu saldo: {balance}.",
    "offer_gone": "Esta oferta ya no está disponible. Usa /buy de nuevo.",
    "grant.usage": "Uso: /grant <id de usuario de Telegram> <créditos>",
    "granted": "Se concedieron {credits} créditos a {user}. Su saldo: {balance}.",
    "admins_only": "Solo los administradores del bot pueden hacer eso.",
    "error": "Algo salió mal por mi parte. No se cobró nada; inténtalo de nuevo.",
    "cmd.start": "Empezar y ver cómo funciona",
    "cmd.help": "Cómo usar el bot",
    "cmd.duet": "Un vídeo de dos personas hablando",
    "cmd.balance": "Tus créditos",
    "cmd.history": "Tus últimos vídeos",
    "cmd.buy": "Comprar créditos con Telegram Stars",
    "cmd.cancel": "Olvidar la petición actual o detener un vídeo",
}

TR: dict[str, str] = {
    "welcome": (
        "Merhaba {name}! Bana bir fotoğraf ya da video ve bir ses gönder, sana dudakları "
        "senkronlanmış bir video göndereyim.\n\n"
        "🗣 Konuşan portre: bir fotoğraf, ardından bir sesli mesaj (ya da bir ses dosyası veya "
        "sesli bir video) gönder.\n"
        "🎬 Seslendirme: bir video ya da yuvarlak bir görüntülü mesaj, ardından yeni sesi "
        "gönder.\n"
        "👥 Düet: /duet, ardından iki kişinin fotoğrafı ve her biri için bir ses.\n\n"
        "{balance} kredin var. /help tüm komutları listeler."
    ),
    "help": (
        "Nasıl çalışır:\n"
        "🗣 Konuşan portre: bir fotoğraf, ardından bir sesli mesaj (ya da bir ses dosyası veya "
        "sesli bir video) gönder.\n"
        "🎬 Seslendirme: bir video ya da yuvarlak bir görüntülü mesaj, ardından yeni sesi "
        "gönder.\n"
        "👥 Düet: /duet, ardından iki kişinin fotoğrafı, soldakinin sesi ve sağdakinin sesi.\n"
        "Hiçbir ücret alınmadan önce çözünürlüğü seçer ve fiyatı görürsün.\n\n"
        "/balance: kredilerin\n"
        "/history: son videoların\n"
        "/buy: Telegram Stars ile kredi\n"
        "/cancel: mevcut isteği unut ya da devam eden bir videoyu durdur\n\n"
        "{prices}"
    ),
    "prices": (
        "Fiyat: 480p'de saniye başına {rate_480} kredi, 720p'de {rate_720}; her video en az "
        "{min_seconds} sn sayılır."
    ),
    "ask_voice.portrait": (
        "Güzel fotoğraf! Şimdi sesi gönder: bir sesli mesaj, bir ses dosyası ya da sesli bir video."
    ),
    "ask_voice.dub": (
        "Videoyu aldım. Şimdi yeni sesi gönder: bir sesli mesaj, bir ses dosyası ya da sesli "
        "bir video."
    ),
    "duet.ask_photo": "Düet: yan yana iki kişinin olduğu bir fotoğraf gönder.",
    "duet.ask_left": "Şimdi soldaki kişinin sesi.",
    "duet.ask_right": "Ve şimdi sağdaki kişinin sesi.",
    "duet.ask_order": "Kim ne zaman konuşsun?",
    "order.meanwhile": "Birlikte",
    "order.left_right": "Önce soldaki",
    "order.right_left": "Önce sağdaki",
    "ask_resolution": "Hangi çözünürlük?",
    "what.portrait": "Konuşan portre",
    "what.dub": "Seslendirilmiş video",
    "what.duet": "Düet",
    "confirm": (
        "{what}, {resolution}, {seconds} sn.\nFiyat: {credits} kredi. Bakiyen: {balance} kredi."
    ),
    "confirm_short": "{missing} krediye daha ihtiyacın var: /buy",
    "button.confirm": "✅ Yap",
    "button.cancel": "✖ İptal",
    "button.stop": "✖ Durdur",
    "insufficient": (
        "Yeterli kredin yok: bu video {credits} kredi tutuyor ve {balance} kredin var. "
        "/buy ile daha fazla al, sonra ✅ düğmesine yeniden dokun."
    ),
    "rate_limited": (
        "Bir dakikada başlatabileceğinden fazla video ({limit}). {seconds} sn bekle, sonra "
        "✅ düğmesine yeniden dokun."
    ),
    "queued": "⏳ Boş bir işleyici bekleniyor…",
    "progress": "⏳ {stage}: %{percent}",
    "stage.starting": "Başlıyor",
    "stage.decoding": "Dosyaların okunuyor",
    "stage.finding faces": "Yüzler bulunuyor",
    "stage.tracking faces": "Yüz takip ediliyor",
    "stage.choosing mouths": "Ağız şekilleri seçiliyor",
    "stage.analysing speech": "Ses dinleniyor",
    "stage.rendering": "Canlandırılıyor",
    "stage.encoding": "Kodlanıyor",
    "stage.other": "Çalışıyor",
    "done": "✅ Bitti! {credits} kredi düşüldü; bakiyen {balance}.",
    "caption": "{what} · {seconds} sn",
    "link": (
        "Video {size} MB; bir botun burada gönderebileceği {limit} MB sınırını aşıyor, o "
        "yüzden işte bağlantısı: {url}"
    ),
    "no_face.lipsync-image": (
        "😕 Bu fotoğrafta bir yüz bulamadım. Net, karşıdan çekilmiş bir fotoğraf dene. "
        "Hiçbir ücret alınmadı."
    ),
    "no_face.lipsync-image-multi": (
        "😕 Yan yana iki yüzün olduğu bir fotoğraf gerekiyor. Hiçbir ücret alınmadı."
    ),
    "no_face.lipsync-video": "😕 Bu videoda bir yüz bulamadım. Hiçbir ücret alınmadı.",
    "failed": "😕 Bu videoyu yapamadım: {reason}\nHiçbir ücret alınmadı.",
    "canceled": "✖ İptal edildi. Hiçbir ücret alınmadı.",
    "timeout": "Bu her zamankinden uzun sürüyor; sonucu /history gösterecek.",
    "too_big.cloud": (
        "Bu dosya {size} MB. Telegram'ın bulut Bot API'sindeki botlar en fazla {limit} MB "
        "dosya indirebilir, bu yüzden onu alamıyorum. Lütfen daha kısa ya da daha sıkıştırılmış "
        "bir dosya gönder. (Bu botu çalıştıran kişi yerel bir Bot API sunucusuyla sınırı "
        "kaldırabilir.)"
    ),
    "too_big.local": (
        "Bu dosya {size} MB; en fazla {limit} MB indirebilirim. Lütfen daha kısa ya da daha "
        "sıkıştırılmış bir dosya gönder."
    ),
    "too_big.cloud_unknown": (
        "Bu dosya, Telegram'ın bulut Bot API'sindeki botların indirebildiği {limit} MB "
        "sınırını aşıyor, bu yüzden onu alamıyorum. Lütfen daha kısa ya da daha sıkıştırılmış "
        "bir dosya gönder. (Bu botu çalıştıran kişi yerel bir Bot API sunucusuyla sınırı "
        "kaldırabilir.)"
    ),
    "too_big.local_unknown": (
        "Bu dosya çok büyük: en fazla {limit} MB indirebilirim. Lütfen daha kısa ya da daha "
        "sıkıştırılmış bir dosya gönder."
    ),
    "unsupported": (
        "Bu tür bir dosyayı kullanamıyorum. Bir fotoğraf (JPEG, PNG, WebP), bir video (MP4, "
        "MOV, WebM) ya da bir ses (sesli mesaj, MP3, WAV, OGG, M4A) gönder."
    ),
    "bad_file": "Bu dosyayı kullanamadım: {reason}",
    "no_sound": (
        "Bu videonun sesi yok, bu yüzden ses olarak kullanılamaz. Bir sesli mesaj, bir ses "
        "dosyası ya da sesli bir video gönder."
    ),
    "need_media_first": (
        "Önce bir fotoğraf (konuşan portre) ya da bir video (seslendirme), ardından sesi "
        "gönder. İki kişi için /duet kullan."
    ),
    "duet.need_photo": "Düet için önce fotoğraf gerekiyor: yan yana iki kişi.",
    "use_buttons": "Lütfen yukarıdaki düğmelerle yanıtla ya da baştan başlamak için /cancel.",
    "stale": "Bu istek artık geçerli değil.",
    "forgotten": "Tamam, unutuldu. İstediğin zaman bir fotoğraf ya da video gönder.",
    "stopping": "Devam eden {count} video durduruluyor; bunlar için ücret alınmaz.",
    "nothing_to_cancel": "İptal edilecek bir şey yok.",
    "balance": "{balance} kredin var.",
    "history.empty": "Henüz hiç video yapmadın.",
    "history.head": "Son videoların:",
    "status.queued": "bekliyor",
    "status.processing": "yapılıyor",
    "status.completed": "{credits} kredi",
    "status.failed": "başarısız, ücret alınmadı",
    "status.canceled": "iptal edildi, ücret alınmadı",
    "buy.choose": "Bir paket seç. Telegram Stars ⭐ ile ödersin.",
    "buy.button": "{credits} kredi: {stars} ⭐",
    "invoice.title": "{credits} kredi",
    "invoice.description": (
        "Dudak senkronlu videolar için {credits} kredi: 480p'de yaklaşık {seconds} sn."
    ),
    "paid": "⭐ Teşekkürler! {credits} kredi eklendi. Bakiyen: {balance}.",
    "paid_already": "Bu ödeme zaten hesabına eklenmişti. Bakiyen: {balance}.",
    "offer_gone": "Bu teklif artık geçerli değil. Lütfen yeniden /buy kullan.",
    "grant.usage": "Kullanım: /grant <Telegram kullanıcı kimliği> <kredi>",
    "granted": "{user} kullanıcısına {credits} kredi verildi. Bakiyesi: {balance}.",
    "admins_only": "Bunu yalnızca botun yöneticileri yapabilir.",
    "error": "Benim tarafımda bir şeyler ters gitti. Hiçbir ücret alınmadı; lütfen yeniden dene.",
    "cmd.start": "Başla ve nasıl çalıştığını gör",
    "cmd.help": "Bot nasıl kullanılır",
    "cmd.duet": "İki kişinin konuştuğu bir video",
    "cmd.balance": "Kredilerin",
    "cmd.history": "Son videoların",
    "cmd.buy": "Telegram Stars ile kredi al",
    "cmd.cancel": "Mevcut isteği unut ya da bir videoyu durdur",
}

KO: dict[str, str] = {
    "welcome": (
        "안녕하세요, {name}님! 사진이나 영상과 목소리를 보내 주시면 입 모양이 맞춰진 영상을 "
        "보내 드립니다.\n\n"
        "🗣 말하는 초상화: 사진을 보낸 뒤 음성 메시지(또는 오디오 파일, 소리가 있는 영상)를 "
        "보내세요.\n"
        "🎬 더빙: 영상이나 동그란 영상 메시지를 보낸 뒤 새 목소리를 보내세요.\n"
        "👥 듀엣: /duet 후 두 사람의 사진과 각자의 목소리를 보내세요.\n\n"
        "보유 크레딧: {balance}. /help 에서 모든 명령을 볼 수 있습니다."
    ),
    "help": (
        "사용 방법:\n"
        "🗣 말하는 초상화: 사진을 보낸 뒤 음성 메시지(또는 오디오 파일, 소리가 있는 영상)를 "
        "보내세요.\n"
        "🎬 더빙: 영상이나 동그란 영상 메시지를 보낸 뒤 새 목소리를 보내세요.\n"
        "👥 듀엣: /duet 후 두 사람의 사진, 왼쪽 사람의 목소리, 오른쪽 사람의 목소리를 "
        "보내세요.\n"
        "요금이 청구되기 전에 해상도를 고르고 가격을 확인합니다.\n\n"
        "/balance: 내 크레딧\n"
        "/history: 최근 영상\n"
        "/buy: Telegram Stars로 크레딧 구매\n"
        "/cancel: 현재 요청을 취소하거나 진행 중인 영상을 중지\n\n"
        "{prices}"
    ),
    "prices": (
        "가격: 480p는 초당 {rate_480} 크레딧, 720p는 {rate_720} 크레딧이며, 영상마다 최소 "
        "{min_seconds}초로 계산됩니다."
    ),
    "ask_voice.portrait": (
        "멋진 사진이네요! 이제 목소리를 보내 주세요: 음성 메시지, 오디오 파일 또는 소리가 "
        "있는 영상."
    ),
    "ask_voice.dub": (
        "영상을 받았습니다. 이제 새 목소리를 보내 주세요: 음성 메시지, 오디오 파일 또는 "
        "소리가 있는 영상."
    ),
    "duet.ask_photo": "듀엣: 두 사람이 나란히 있는 사진을 보내 주세요.",
    "duet.ask_left": "이제 왼쪽 사람의 목소리를 보내 주세요.",
    "duet.ask_right": "이제 오른쪽 사람의 목소리를 보내 주세요.",
    "duet.ask_order": "누가 언제 말할까요?",
    "order.meanwhile": "동시에",
    "order.left_right": "왼쪽 먼저",
    "order.right_left": "오른쪽 먼저",
    "ask_resolution": "해상도를 선택하세요.",
    "what.portrait": "말하는 초상화",
    "what.dub": "더빙 영상",
    "what.duet": "듀엣",
    "confirm": (
        "{what}, {resolution}, {seconds}초.\n가격: {credits} 크레딧. 잔액: {balance} 크레딧."
    ),
    "confirm_short": "{missing} 크레딧이 더 필요합니다: /buy",
    "button.confirm": "✅ 만들기",
    "button.cancel": "✖ 취소",
    "button.stop": "✖ 중지",
    "insufficient": (
        "크레딧이 부족합니다: 이 영상은 {credits} 크레딧이고 잔액은 {balance} 크레딧입니다. "
        "/buy 로 충전한 뒤 ✅ 를 다시 누르세요."
    ),
    "rate_limited": (
        "1분에 시작할 수 있는 영상 수({limit}개)를 넘었습니다. {seconds}초 기다린 뒤 ✅ 를 "
        "다시 누르세요."
    ),
    "queued": "⏳ 렌더러를 기다리는 중…",
    "progress": "⏳ {stage}: {percent}%",
    "stage.starting": "시작하는 중",
    "stage.decoding": "파일을 읽는 중",
    "stage.finding faces": "얼굴을 찾는 중",
    "stage.tracking faces": "얼굴을 추적하는 중",
    "stage.choosing mouths": "입 모양을 고르는 중",
    "stage.analysing speech": "목소리를 듣는 중",
    "stage.rendering": "움직임을 만드는 중",
    "stage.encoding": "인코딩 중",
    "stage.other": "작업 중",
    "done": "✅ 완료! {credits} 크레딧이 차감되었습니다. 잔액: {balance}.",
    "caption": "{what} · {seconds}초",
    "link": (
        "영상이 {size} MB로, 봇이 여기서 보낼 수 있는 {limit} MB를 넘어 링크로 보내 드립니다: {url}"
    ),
    "no_face.lipsync-image": (
        "😕 사진에서 얼굴을 찾지 못했습니다. 정면을 향한 선명한 사진으로 다시 시도해 주세요. "
        "요금은 청구되지 않았습니다."
    ),
    "no_face.lipsync-image-multi": (
        "😕 두 얼굴이 나란히 있는 사진이 필요합니다. 요금은 청구되지 않았습니다."
    ),
    "no_face.lipsync-video": ("😕 영상에서 얼굴을 찾지 못했습니다. 요금은 청구되지 않았습니다."),
    "failed": "😕 이 영상을 만들지 못했습니다: {reason}\n요금은 청구되지 않았습니다.",
    "canceled": "✖ 취소되었습니다. 요금은 청구되지 않았습니다.",
    "timeout": "평소보다 오래 걸리고 있습니다. 결과는 /history 에서 확인할 수 있습니다.",
    "too_big.cloud": (
        "이 파일은 {size} MB입니다. Telegram 클라우드 Bot API의 봇은 최대 {limit} MB까지만 "
        "내려받을 수 있어 가져올 수 없습니다. 더 짧거나 더 압축된 파일을 보내 주세요. "
        "(봇 운영자는 로컬 Bot API 서버로 이 제한을 없앨 수 있습니다.)"
    ),
    "too_big.local": (
        "이 파일은 {size} MB입니다. 최대 {limit} MB까지 내려받을 수 있습니다. 더 짧거나 더 "
        "압축된 파일을 보내 주세요."
    ),
    "too_big.cloud_unknown": (
        "이 파일은 Telegram 클라우드 Bot API의 봇이 내려받을 수 있는 {limit} MB를 넘어 "
        "가져올 수 없습니다. 더 짧거나 더 압축된 파일을 보내 주세요. "
        "(봇 운영자는 로컬 Bot API 서버로 이 제한을 없앨 수 있습니다.)"
    ),
    "too_big.local_unknown": (
        "이 파일은 너무 큽니다. 최대 {limit} MB까지 내려받을 수 있습니다. 더 짧거나 더 "
        "압축된 파일을 보내 주세요."
    ),
    "unsupported": (
        "이 종류의 파일은 사용할 수 없습니다. 사진(JPEG, PNG, WebP), 영상(MP4, MOV, WebM) "
        "또는 목소리(음성 메시지, MP3, WAV, OGG, M4A)를 보내 주세요."
    ),
    "bad_file": "그 파일을 사용할 수 없습니다: {reason}",
    "no_sound": (
        "이 영상에는 소리가 없어 목소리로 쓸 수 없습니다. 음성 메시지, 오디오 파일 또는 "
        "소리가 있는 영상을 보내 주세요."
    ),
    "need_media_first": (
        "먼저 사진(말하는 초상화)이나 영상(더빙)을 보낸 뒤 목소리를 보내 주세요. "
        "두 사람이라면 /duet 을 사용하세요."
    ),
    "duet.need_photo": "듀엣에는 먼저 사진이 필요합니다: 두 사람이 나란히 있는 사진.",
    "use_buttons": "위의 버튼으로 답해 주시거나, /cancel 로 처음부터 다시 시작하세요.",
    "stale": "이 요청은 더 이상 유효하지 않습니다.",
    "forgotten": "알겠습니다, 취소했습니다. 언제든 사진이나 영상을 보내 주세요.",
    "stopping": "진행 중인 영상 {count}개를 중지합니다. 요금은 청구되지 않습니다.",
    "nothing_to_cancel": "취소할 것이 없습니다.",
    "balance": "보유 크레딧: {balance}.",
    "history.empty": "아직 만든 영상이 없습니다.",
    "history.head": "최근 영상:",
    "status.queued": "대기 중",
    "status.processing": "진행 중",
    "status.completed": "{credits} 크레딧",
    "status.failed": "실패, 청구 없음",
    "status.canceled": "취소됨, 청구 없음",
    "buy.choose": "패키지를 선택하세요. Telegram Stars ⭐ 로 결제합니다.",
    "buy.button": "{credits} 크레딧: {stars} ⭐",
    "invoice.title": "{credits} 크레딧",
    "invoice.description": "입 모양 동기화 영상용 {credits} 크레딧: 480p로 약 {seconds}초.",
    "paid": "⭐ 감사합니다! {credits} 크레딧이 추가되었습니다. 잔액: {balance}.",
    "paid_already": "이 결제는 이미 반영되었습니다. 잔액: {balance}.",
    "offer_gone": "이 상품은 더 이상 구매할 수 없습니다. /buy 를 다시 사용해 주세요.",
    "grant.usage": "사용법: /grant <Telegram 사용자 ID> <크레딧>",
    "granted": "{user}에게 {credits} 크레딧을 지급했습니다. 잔액: {balance}.",
    "admins_only": "봇 관리자만 할 수 있습니다.",
    "error": "문제가 발생했습니다. 요금은 청구되지 않았습니다. 다시 시도해 주세요.",
    "cmd.start": "시작하고 사용법 보기",
    "cmd.help": "봇 사용법",
    "cmd.duet": "두 사람이 대화하는 영상",
    "cmd.balance": "내 크레딧",
    "cmd.history": "최근 영상",
    "cmd.buy": "Telegram Stars로 크레딧 구매",
    "cmd.cancel": "현재 요청 취소 또는 영상 중지",
}

JA: dict[str, str] = {
    "welcome": (
        "こんにちは、{name}さん！写真か動画と声を送ってくだされば、口の動きを合わせた動画を"
        "お返しします。\n\n"
        "🗣 しゃべる肖像：写真を送ってから、ボイスメッセージ（または音声ファイル、音声付きの"
        "動画）を送ってください。\n"
        "🎬 吹き替え：動画か丸いビデオメッセージを送ってから、新しい声を送ってください。\n"
        "👥 デュエット：/duet のあと、二人の写真とそれぞれの声を送ってください。\n\n"
        "クレジット残高：{balance}。/help ですべてのコマンドを表示します。"
    ),
    "help": (
        "使い方：\n"
        "🗣 しゃべる肖像：写真を送ってから、ボイスメッセージ（または音声ファイル、音声付きの"
        "動画）を送ってください。\n"
        "🎬 吹き替え：動画か丸いビデオメッセージを送ってから、新しい声を送ってください。\n"
        "👥 デュエット：/duet のあと、二人の写真、左の人の声、右の人の声を送ってください。\n"
        "料金が発生する前に、解像度を選んで価格を確認できます。\n\n"
        "/balance：クレジット残高\n"
        "/history：最近の動画\n"
        "/buy：Telegram Stars でクレジットを購入\n"
        "/cancel：今のリクエストを取り消す、または作成中の動画を止める\n\n"
        "{prices}"
    ),
    "prices": (
        "料金：480p は 1 秒あたり {rate_480} クレジット、720p は {rate_720} クレジット。"
        "動画は最低 {min_seconds} 秒として計算されます。"
    ),
    "ask_voice.portrait": (
        "すてきな写真ですね！次は声を送ってください：ボイスメッセージ、音声ファイル、"
        "または音声付きの動画。"
    ),
    "ask_voice.dub": (
        "動画を受け取りました。次は新しい声を送ってください：ボイスメッセージ、音声ファイル、"
        "または音声付きの動画。"
    ),
    "duet.ask_photo": "デュエット：二人が並んで写っている写真を送ってください。",
    "duet.ask_left": "次は左の人の声を送ってください。",
    "duet.ask_right": "次は右の人の声を送ってください。",
    "duet.ask_order": "誰がいつ話しますか？",
    "order.meanwhile": "同時に",
    "order.left_right": "左が先",
    "order.right_left": "右が先",
    "ask_resolution": "解像度を選んでください。",
    "what.portrait": "しゃべる肖像",
    "what.dub": "吹き替え動画",
    "what.duet": "デュエット",
    "confirm": (
        "{what}、{resolution}、{seconds} 秒。\n"
        "価格：{credits} クレジット。残高：{balance} クレジット。"
    ),
    "confirm_short": "あと {missing} クレジット必要です：/buy",
    "button.confirm": "✅ 作成する",
    "button.cancel": "✖ キャンセル",
    "button.stop": "✖ 停止",
    "insufficient": (
        "クレジットが足りません：この動画は {credits} クレジットで、残高は {balance} です。"
        "/buy で購入してから、もう一度 ✅ を押してください。"
    ),
    "rate_limited": (
        "1 分間に始められる動画の数（{limit}）を超えました。{seconds} 秒待ってから、もう一度 "
        "✅ を押してください。"
    ),
    "queued": "⏳ 空いているレンダラーを待っています…",
    "progress": "⏳ {stage}：{percent}%",
    "stage.starting": "開始しています",
    "stage.decoding": "ファイルを読み込んでいます",
    "stage.finding faces": "顔を探しています",
    "stage.tracking faces": "顔を追跡しています",
    "stage.choosing mouths": "口の形を選んでいます",
    "stage.analysing speech": "声を聞き取っています",
    "stage.rendering": "アニメーションを作っています",
    "stage.encoding": "エンコードしています",
    "stage.other": "処理しています",
    "done": "✅ 完成！{credits} クレジットを使いました。残高は {balance} です。",
    "caption": "{what} · {seconds} 秒",
    "link": (
        "動画は {size} MB で、ボットがここで送れる {limit} MB を超えているため、リンクで"
        "お送りします：{url}"
    ),
    "no_face.lipsync-image": (
        "😕 その写真に顔が見つかりませんでした。正面を向いたはっきりした写真でお試しください。"
        "料金はかかっていません。"
    ),
    "no_face.lipsync-image-multi": (
        "😕 二つの顔が並んで写っている写真が必要です。料金はかかっていません。"
    ),
    "no_face.lipsync-video": "😕 その動画に顔が見つかりませんでした。料金はかかっていません。",
    "failed": "😕 この動画を作れませんでした：{reason}\n料金はかかっていません。",
    "canceled": "✖ キャンセルしました。料金はかかっていません。",
    "timeout": "いつもより時間がかかっています。結果は /history で確認できます。",
    "too_big.cloud": (
        "このファイルは {size} MB です。Telegram のクラウド Bot API のボットは {limit} MB "
        "までのファイルしかダウンロードできないため、取得できません。もっと短いか圧縮した"
        "ファイルを送ってください。（ボットの運営者はローカル Bot API サーバーでこの制限を"
        "なくせます。）"
    ),
    "too_big.local": (
        "このファイルは {size} MB です。ダウンロードできるのは {limit} MB までです。もっと"
        "短いか圧縮したファイルを送ってください。"
    ),
    "too_big.cloud_unknown": (
        "このファイルは Telegram のクラウド Bot API のボットがダウンロードできる {limit} MB "
        "を超えているため、取得できません。もっと短いか圧縮したファイルを送ってください。"
        "（ボットの運営者はローカル Bot API サーバーでこの制限をなくせます。）"
    ),
    "too_big.local_unknown": (
        "このファイルは大きすぎます。ダウンロードできるのは {limit} MB までです。もっと"
        "短いか圧縮したファイルを送ってください。"
    ),
    "unsupported": (
        "この種類のファイルは使えません。写真（JPEG、PNG、WebP）、動画（MP4、MOV、WebM）、"
        "または声（ボイスメッセージ、MP3、WAV、OGG、M4A）を送ってください。"
    ),
    "bad_file": "そのファイルは使えませんでした：{reason}",
    "no_sound": (
        "この動画には音声がないため、声として使えません。ボイスメッセージ、音声ファイル、"
        "または音声付きの動画を送ってください。"
    ),
    "need_media_first": (
        "まず写真（しゃべる肖像）か動画（吹き替え）を送り、そのあと声を送ってください。"
        "二人の場合は /duet を使ってください。"
    ),
    "duet.need_photo": "デュエットにはまず写真が必要です：二人が並んで写っている写真。",
    "use_buttons": "上のボタンで答えるか、/cancel で最初からやり直してください。",
    "stale": "このリクエストはもう有効ではありません。",
    "forgotten": "わかりました、取り消しました。いつでも写真か動画を送ってください。",
    "stopping": "作成中の動画 {count} 本を停止します。料金はかかりません。",
    "nothing_to_cancel": "取り消すものはありません。",
    "balance": "クレジット残高：{balance}。",
    "history.empty": "まだ動画を作っていません。",
    "history.head": "最近の動画：",
    "status.queued": "待機中",
    "status.processing": "作成中",
    "status.completed": "{credits} クレジット",
    "status.failed": "失敗、料金なし",
    "status.canceled": "キャンセル、料金なし",
    "buy.choose": "パックを選んでください。Telegram Stars ⭐ でお支払いいただけます。",
    "buy.button": "{credits} クレジット：{stars} ⭐",
    "invoice.title": "{credits} クレジット",
    "invoice.description": (
        "口の動きを合わせた動画用の {credits} クレジット：480p で約 {seconds} 秒。"
    ),
    "paid": "⭐ ありがとうございます！{credits} クレジットを追加しました。残高：{balance}。",
    "paid_already": "この支払いはすでに反映されています。残高：{balance}。",
    "offer_gone": "この商品は現在ご利用いただけません。もう一度 /buy をお使いください。",
    "grant.usage": "使い方：/grant <Telegram ユーザー ID> <クレジット>",
    "granted": "{user} に {credits} クレジットを付与しました。残高：{balance}。",
    "admins_only": "ボットの管理者だけが実行できます。",
    "error": "こちらで問題が発生しました。料金はかかっていません。もう一度お試しください。",
    "cmd.start": "開始して使い方を見る",
    "cmd.help": "ボットの使い方",
    "cmd.duet": "二人が話す動画",
    "cmd.balance": "クレジット残高",
    "cmd.history": "最近の動画",
    "cmd.buy": "Telegram Stars でクレジットを購入",
    "cmd.cancel": "今のリクエストを取り消す・動画を止める",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "es": ES, "tr": TR, "ko": KO, "ja": JA}


def language_of(user: User | None) -> str:
    """The language to answer this Telegram user in."""
    return pick_language(user.language_code if user else None, LANGUAGES)


def t(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` (English if that language lacks it), filled with `values`."""
    template = TEXTS.get(lang, EN).get(key) or EN[key]
    return template.format(**values)


def stage_name(lang: str, stage: str) -> str:
    """A renderer stage ("finding faces") in the user's words; unknown stages read "Working"."""
    key = f"stage.{stage}"
    return t(lang, key if key in EN else "stage.other")
