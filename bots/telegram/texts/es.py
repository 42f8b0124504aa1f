"""The Telegram bot's texts in Spanish."""

ES: dict[str, str] = {
    "welcome": (
        "¡Hola, {name}! Envíame una foto o un vídeo y una voz, y te devuelvo un vídeo con "
        "los labios sincronizados.\n\n"
        "🗣 Retrato parlante: envía una foto y luego una nota de voz (o un archivo de audio, "
        "o un vídeo con sonido).\n"
        "🎬 Doblaje: envía un vídeo o una videonota redonda y luego la nueva voz.\n"
        "👥 Dúo: /duet, luego una foto de dos personas y una voz para cada una.\n"
        "⌨️ ¿Sin grabación? Donde espero una voz, escribe lo que debe decir la persona.\n\n"
        "Tienes {balance} créditos. /help muestra todos los comandos."
    ),
    "help": (
        "Cómo funciona:\n"
        "🗣 Retrato parlante: envía una foto y luego una nota de voz (o un archivo de audio, "
        "o un vídeo con sonido).\n"
        "🎬 Doblaje: envía un vídeo o una videonota redonda y luego la nueva voz.\n"
        "👥 Dúo: /duet, luego una foto de dos personas, la voz de la izquierda y la de la "
        "derecha.\n"
        "⌨️ ¿Sin grabación? Donde espero una voz, escribe lo que debe decir la persona.\n"
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
        "¡Bonita foto! Ahora envía la voz: una nota de voz, un archivo de audio o un "
        "vídeo con sonido, o escribe lo que debe decir la persona."
    ),
    "ask_voice.dub": (
        "Recibí el vídeo. Ahora envía la nueva voz: una nota de voz, un archivo de audio "
        "o un vídeo con sonido, o escribe lo que debe decir la persona."
    ),
    "duet.ask_photo": "Dúo: envía una foto con dos personas una al lado de la otra.",
    "duet.ask_left": "Ahora la voz de la persona de la izquierda (o escribe lo que debe decir).",
    "duet.ask_right": "Y ahora la voz de la persona de la derecha (o escribe lo que debe decir).",
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
    "stage.speaking": "Diciendo tu texto",
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
    "bad_text": "No puedo pronunciar ese texto: {reason}",
    "confirm_voice": "🗣 Voz: {voice}. ¿Prefieres otra? Tócala abajo.",
    "voice.en-us": "Inglés (EE. UU.)",
    "voice.en-gb": "Inglés (Reino Unido)",
    "voice.es": "Español",
    "voice.tr": "Turco",
    "voice.ko": "Coreano",
    "voice.ja": "Japonés",
    "no_sound": (
        "Este vídeo no tiene sonido, así que no puede ser la voz. Envía una nota de voz, un "
        "archivo de audio o un vídeo con sonido."
    ),
    "need_media_first": (
        "Primero envía una foto (retrato parlante) o un vídeo (doblaje) y luego la voz. "
        "Para dos personas, usa /duet."
    ),
    "duet.need_photo": (
        "Para el dúo necesito primero la foto: dos personas una al lado de la otra."
    ),
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
