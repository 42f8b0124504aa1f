"""The Telegram bot's texts in Korean."""

KO: dict[str, str] = {
    "welcome": (
        "안녕하세요, {name}님! 사진이나 영상과 목소리를 보내 주시면 입 모양이 맞춰진 영상을 "
        "보내 드립니다.\n\n"
        "🗣 말하는 초상화: 사진을 보낸 뒤 음성 메시지(또는 오디오 파일, 소리가 있는 영상)를 "
        "보내세요.\n"
        "🎬 더빙: 영상이나 동그란 영상 메시지를 보낸 뒤 새 목소리를 보내세요.\n"
        "👥 듀엣: /duet 후 두 사람의 사진과 각자의 목소리를 보내세요.\n"
        "⌨️ 녹음이 없나요? 목소리를 기다릴 때 그 사람이 할 말을 입력하세요.\n\n"
        "보유 크레딧: {balance}. /help 에서 모든 명령을 볼 수 있습니다."
    ),
    "help": (
        "사용 방법:\n"
        "🗣 말하는 초상화: 사진을 보낸 뒤 음성 메시지(또는 오디오 파일, 소리가 있는 영상)를 "
        "보내세요.\n"
        "🎬 더빙: 영상이나 동그란 영상 메시지를 보낸 뒤 새 목소리를 보내세요.\n"
        "👥 듀엣: /duet 후 두 사람의 사진, 왼쪽 사람의 목소리, 오른쪽 사람의 목소리를 "
        "보내세요.\n"
        "⌨️ 녹음이 없나요? 목소리를 기다릴 때 그 사람이 할 말을 입력하세요.\n"
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
        "있는 영상. 아니면 그 사람이 할 말을 입력해 주세요."
    ),
    "ask_voice.dub": (
        "영상을 받았습니다. 이제 새 목소리를 보내 주세요: 음성 메시지, 오디오 파일 또는 "
        "소리가 있는 영상. 아니면 그 사람이 할 말을 입력해 주세요."
    ),
    "duet.ask_photo": "듀엣: 두 사람이 나란히 있는 사진을 보내 주세요.",
    "duet.ask_left": "이제 왼쪽 사람의 목소리를 보내 주세요 (또는 할 말을 입력해 주세요).",
    "duet.ask_right": "이제 오른쪽 사람의 목소리를 보내 주세요 (또는 할 말을 입력해 주세요).",
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
    "stage.speaking": "텍스트를 읽는 중",
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
    "bad_text": "그 텍스트는 읽을 수 없습니다: {reason}",
    "confirm_voice": "🗣 목소리: {voice}. 다른 목소리를 원하시면 아래에서 누르세요.",
    "voice.en-us": "영어 (미국)",
    "voice.en-gb": "영어 (영국)",
    "voice.es": "스페인어",
    "voice.tr": "터키어",
    "voice.ko": "한국어",
    "voice.ja": "일본어",
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
