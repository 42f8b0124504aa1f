"""The Telegram bot's texts in Japanese."""

JA: dict[str, str] = {
    "welcome": (
        "こんにちは、{name}さん！写真か動画と声を送ってくだされば、口の動きを合わせた動画を"
        "お返しします。\n\n"
        "🗣 しゃべる肖像：写真を送ってから、ボイスメッセージ（または音声ファイル、音声付きの"
        "動画）を送ってください。\n"
        "🎬 吹き替え：動画か丸いビデオメッセージを送ってから、新しい声を送ってください。\n"
        "👥 デュエット：/duet のあと、二人の写真とそれぞれの声を送ってください。\n"
        "⌨️ 録音がなくても大丈夫：声を待っているときに、話してほしい言葉を入力してください。\n\n"
        "クレジット残高：{balance}。/help ですべてのコマンドを表示します。"
    ),
    "help": (
        "使い方：\n"
        "🗣 しゃべる肖像：写真を送ってから、ボイスメッセージ（または音声ファイル、音声付きの"
        "動画）を送ってください。\n"
        "🎬 吹き替え：動画か丸いビデオメッセージを送ってから、新しい声を送ってください。\n"
        "👥 デュエット：/duet のあと、二人の写真、左の人の声、右の人の声を送ってください。\n"
        "⌨️ 録音がなくても大丈夫：声を待っているときに、話してほしい言葉を入力してください。\n"
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
        "または音声付きの動画。話してほしい言葉を入力してもかまいません。"
    ),
    "ask_voice.dub": (
        "動画を受け取りました。次は新しい声を送ってください：ボイスメッセージ、音声ファイル、"
        "または音声付きの動画。話してほしい言葉を入力してもかまいません。"
    ),
    "duet.ask_photo": "デュエット：二人が並んで写っている写真を送ってください。",
    "duet.ask_left": "次は左の人の声を送ってください（話してほしい言葉を入力しても大丈夫です）。",
    "duet.ask_right": "次は右の人の声を送ってください（話してほしい言葉を入力しても大丈夫です）。",
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
    "stage.speaking": "テキストを読み上げています",
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
    "bad_text": "そのテキストは読み上げられません：{reason}",
    "confirm_voice": "🗣 声：{voice}。別の声にするには下のボタンをタップしてください。",
    "voice.en-us": "英語（米国）",
    "voice.en-gb": "英語（英国）",
    "voice.es": "スペイン語",
    "voice.tr": "トルコ語",
    "voice.ko": "韓国語",
    "voice.ja": "日本語",
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
