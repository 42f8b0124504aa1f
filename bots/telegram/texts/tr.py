"""The Telegram bot's texts in Turkish."""

TR: dict[str, str] = {
    "welcome": (
        "Merhaba {name}! Bana bir fotoğraf ya da video ve bir ses gönder, sana dudakları "
        "senkronlanmış bir video göndereyim.\n\n"
        "🗣 Konuşan portre: bir fotoğraf, ardından bir sesli mesaj (ya da bir ses dosyası veya "
        "sesli bir video) gönder.\n"
        "🎬 Seslendirme: bir video ya da yuvarlak bir görüntülü mesaj, ardından yeni sesi "
        "gönder.\n"
        "👥 Düet: /duet, ardından iki kişinin fotoğrafı ve her biri için bir ses.\n"
        "⌨️ Kayıt yok mu? Ses beklediğim yerde, kişinin söylemesini istediğin sözleri yaz.\n\n"
        "{balance} kredin var. /help tüm komutları listeler."
    ),
    "help": (
        "Nasıl çalışır:\n"
        "🗣 Konuşan portre: bir fotoğraf, ardından bir sesli mesaj (ya da bir ses dosyası veya "
        "sesli bir video) gönder.\n"
        "🎬 Seslendirme: bir video ya da yuvarlak bir görüntülü mesaj, ardından yeni sesi "
        "gönder.\n"
        "👥 Düet: /duet, ardından iki kişinin fotoğrafı, soldakinin sesi ve sağdakinin sesi.\n"
        "⌨️ Kayıt yok mu? Ses beklediğim yerde, kişinin söylemesini istediğin sözleri yaz.\n"
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
        "Güzel fotoğraf! Şimdi sesi gönder: bir sesli mesaj, bir ses dosyası ya da sesli "
        "bir video; ya da kişinin ne söylemesi gerektiğini yaz."
    ),
    "ask_voice.dub": (
        "Videoyu aldım. Şimdi yeni sesi gönder: bir sesli mesaj, bir ses dosyası ya da "
        "sesli bir video; ya da kişinin ne söylemesi gerektiğini yaz."
    ),
    "duet.ask_photo": "Düet: yan yana iki kişinin olduğu bir fotoğraf gönder.",
    "duet.ask_left": "Şimdi soldaki kişinin sesi (ya da ne söylemesi gerektiğini yaz).",
    "duet.ask_right": "Ve şimdi sağdaki kişinin sesi (ya da ne söylemesi gerektiğini yaz).",
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
    "stage.speaking": "Metnin seslendiriliyor",
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
    "bad_text": "Bu metni seslendiremem: {reason}",
    "confirm_voice": "🗣 Ses: {voice}. Başka bir ses mi? Aşağıdan seç.",
    "voice.en-us": "İngilizce (ABD)",
    "voice.en-gb": "İngilizce (Birleşik Krallık)",
    "voice.es": "İspanyolca",
    "voice.tr": "Türkçe",
    "voice.ko": "Korece",
    "voice.ja": "Japonca",
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
