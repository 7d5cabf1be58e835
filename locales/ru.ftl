### Тексты upbot на русском.
### Те же id и те же подстановки, что в en.ftl. DOWN, UP и DEGRADED не переводятся.

## Единицы и короткие слова

unit-d = { $n } д
unit-h = { $n } ч
unit-m = { $n } мин
unit-s = { $n } с
unit-s-frac = { $n } с
unit-ms = { $n } мс
at = в { $time }
until = { $at } (через { $duration })
every = каждые { $duration }
someone = кто-то
an-admin = администратор
the-operator = оператор
your-group = ваша группа
monitors-count = { $count ->
    [one] { $count } монитор
    [few] { $count } монитора
   *[many] { $count } мониторов
}
state-pending = ОЖИДАНИЕ
state-paused = ПАУЗА
lang-name-en = английский
lang-name-pt = португальский
lang-name-ru = русский
lang-name-ko = корейский

## Оповещения

alert-back-after = снова работает после { $duration } простоя
alert-now-up = теперь UP
alert-recovered = восстановлен
alert-now = теперь { $state }
alert-changes = <b>{ $count ->
    [one] { $count } изменение
    [few] { $count } изменения
   *[many] { $count } изменений
}</b>: { $counts }
storm-header = 🚨 <b>{ $count ->
    [one] { $count } изменение
    [few] { $count } изменения
   *[many] { $count } изменений
}</b>: { $counts }
storm-more = … и ещё { $count } · { $cmd } down покажет все мониторы не в UP
count-state = { $count } { $state }
count-still-down = { $count } всё ещё DOWN
behind = + ещё { $count } за ним
reminder-line = ⏰ всё ещё <b>DOWN</b> уже { $duration } · #{ $id } { $who }{ $reason } · с { $since }
mute-ended-line = { $icon } <b>{ $state }</b> #{ $id } { $who }{ $reason } · было { $from } · с { $since }
acked-notice = ✅ #{ $id } { $who } ({ $state }): { $by } взял(а) в работу{ $why }. Напоминаний не будет, пока не восстановится.
muted-notice-all = 🔕 { $by } заглушил(а) все мониторы этого чата до { $until }{ $why }. Проверки продолжаются.
muted-notice-one = 🔕 { $by } заглушил(а) #{ $id } { $who } до { $until }{ $why }. Проверки продолжаются.
mute-ended-all-same = 🔔 <b>Тишина закончилась</b> для всех мониторов этого чата; за это время ничего не изменилось.
mute-ended-one-same = 🔔 <b>Тишина закончилась</b> для #{ $id } { $who }; за это время ничего не изменилось: сейчас { $state }.
mute-ended-changed = 🔔 <b>Тишина закончилась</b>: за это время { $count ->
    [one] изменился { $count } монитор
    [few] изменились { $count } монитора
   *[many] изменились { $count } мониторов
} ({ $counts })
mute-ended-changed-all = 🔔 <b>Тишина закончилась</b> для всех мониторов этого чата: за это время { $count ->
    [one] изменился { $count } монитор
    [few] изменились { $count } монитора
   *[many] изменились { $count } мониторов
} ({ $counts })

## Кнопки под оповещением и ответы на нажатия

button-ack = ✅ Беру
button-mute = 🔕 Тишина 1 ч
button-pause = ⏸ Пауза
button-stale = Эта кнопка больше ничего не делает.
press-acked-toast = ✅ Взято в работу. Напоминаний не будет, пока не восстановится.
press-acked-line = ✅ В работе у { $by }
press-muted-toast = 🔕 Тишина до { $until }.
press-muted-line = 🔕 { $by } включил(а) тишину до { $until }
press-paused-toast = ⏸ На паузе.
press-paused-line = ⏸ { $by } поставил(а) на паузу; { $cmd } { $id } запустит снова
press-done-toast = Готово.
press-done-line = Сделал(а) { $by }: { $reply }

## Ответы на команды

added = ✅ Добавлен #{ $id } <b>{ $name }</b>: { $what }.
added-push = push-монитор { $name }
added-probe = { $kind } { $target }, каждые { $every }
added-tail = Напишу сюда, когда он упадёт в DOWN или вернётся в UP. Удалить: { $cmd } { $id }.
rotated = 🔑 Новый токен для #{ $id } <b>{ $name }</b>; старые URL больше не работают.
deleted = 🗑 Удалён #{ $id } { $who }.
paused = ⏸ #{ $id } { $who } на паузе. Возобновить: { $cmd } { $id }.
resumed = ▶️ #{ $id } { $who } снова проверяется; до решения следующих проверок он в ОЖИДАНИИ.
acked = ✅ #{ $id } { $who }: { $by } взял(а) в работу{ $why }. Напоминаний не будет, пока не восстановится.
muted = 🔕 Тишина: { $what } до { $until }{ $why }. Проверки продолжаются; когда тишина закончится, расскажу, что изменилось. { $cmd } { $end } закончит её сейчас.
muted-what-all = все мониторы этого чата ({ $count })
unmuted = { $changed ->
    [0] 🔔 Тишина снята: { $what }; за это время ничего не изменилось.
    [one] 🔔 Тишина снята: { $what }; за это время изменился { $changed } монитор (подробности в следующем сообщении).
    [few] 🔔 Тишина снята: { $what }; за это время изменились { $changed } монитора (подробности в следующем сообщении).
   *[many] 🔔 Тишина снята: { $what }; за это время изменились { $changed } мониторов (подробности в следующем сообщении).
}
unmuted-what-chat = этот чат
reminders-on = ⏰ { $what }: напоминание каждые { $every }, пока DOWN (если никто не взял в работу и нет тишины).
reminders-off = ⏰ { $what }: без напоминаний.
quiet-on = 🔈 Тихий режим включён: сообщения об UP и восстановлении приходят без звука; DOWN всегда со звуком.
quiet-off = 🔔 Тихий режим выключен: все оповещения приходят со звуком.
lang-set = 🌐 Язык этого чата теперь { $name }. { $cmd } en|pt|ru|ko меняет его.
lang-current = 🌐 Язык этого чата: { $name }. { $cmd } en|pt|ru|ko меняет его.
mark-acked = ✅ в работе у { $by }
mark-muted = 🔕 тишина до { $until }
list-down-none = 🟢 Все мониторы в UP. { $cmd } покажет их все.
list-down-head = <b>Не в UP: { $count }</b>
list-empty = В этом чате пока нет мониторов. Добавьте: { $cmd } 192.0.2.10 или { $cmd } example.com:443
list-head = <b>{ $count ->
    [one] { $count } монитор
    [few] { $count } монитора
   *[many] { $count } мониторов
}</b>
rtt-ms = { $ms } мс
list-loss = потери { $pct }%
no-rtt = RTT пока нет
url-webhook = вебхук статуса (POST): <code>{ $url }</code>
url-heartbeat = heartbeat (GET или POST): <code>{ $url }</code>
push-expected = ожидается каждые { $every }, запас { $grace }
status-head = { $icon } #{ $id } { $who }: <b>{ $state }</b> { $since }
status-since = с { $time } ({ $ago })
status-reason = причина: { $reason }
status-last-heartbeat = последний heartbeat: { $time }
status-settings = { $what } · каждые { $every } · таймаут { $timeout } · сбоев { $fails } · успехов { $recovers }
status-ping = повторов { $retries } · DEGRADED от { $loss }% потерь за { $window ->
    [one] { $window } проверку
    [few] { $window } проверки
   *[many] { $window } проверок
}
status-ping-loss-off = повторов { $retries } · DEGRADED по потерям: выключено
status-packets = пакеты (24 ч): отправлено { $sent }, потеряно { $lost } ({ $pct }%)
status-window = { $count ->
    [one] последняя { $count } проверка
    [few] последние { $count } проверки
   *[many] последние { $count } проверок
}: потери { $pct }%
stats-rtt = RTT мин/сред/макс (24 ч): { $rtt }
stats-rtt-values = { $min } / { $avg } / { $max } мс
stats-none-yet = пока нет
stats-no-probes = за последние 24 ч проверок не было
stats-loss-of = потери: { $loss }% из { $probes ->
    [one] { $probes } проверки
   *[many] { $probes } проверок
} (24 ч)
stats-uptime = доступность 24 ч: { $day } · 7 д: { $week } · 30 д: { $month }
stats-loss-uptime = потери: { $loss }% · доступность (24 ч): { $uptime }% · { $probes ->
    [one] { $probes } проверка
    [few] { $probes } проверки
   *[many] { $probes } проверок
}

## Справка, меню и другие тексты чата

help-greeting = 👋 Я слежу за хостами и пишу в этот чат, когда они падают в DOWN и возвращаются в UP.
help-commands = <b>Команды</b>
help-options = параметры { $cmd }: { $keys }
help-examples = Примеры: { $cmd } 192.0.2.10 · { $cmd } example.com:443 name=web · { $cmd } tcp db.lan 5432 interval=1m · { $cmd } push nightly heartbeat=1d · { $cmd } https://example.com/health keyword=ok · { $cmd } dns example.com type=MX
help-groups = В группах добавлять, удалять, ставить на паузу, возобновлять, включать тишину, напоминания, тихий режим и менять язык могут только администраторы; взять в работу может любой.
cmd-add = следить за хостом, host:port, URL или DNS-именем
cmd-del = перестать следить
cmd-list = мониторы этого чата
cmd-status = состояние, RTT, потери, доступность за 24 ч
cmd-pause = остановить проверки, не удаляя
cmd-resume = возобновить проверки
cmd-rotate = новые URL вебхука для push-монитора
cmd-graph = график времени отклика с доступностью и инцидентами
cmd-page = публичная страница статуса мониторов этого чата
cmd-ack = беру в работу: без напоминаний до восстановления
cmd-mute = придержать оповещения на время; проверки идут
cmd-unmute = закончить тишину сейчас и узнать, что изменилось
cmd-remind = напоминать, пока DOWN (если не в работе и не заглушён)
cmd-quiet = сообщения об UP без звука (DOWN всегда со звуком)
cmd-lang = язык чата: en, pt, ru или ko
cmd-help = как пользоваться ботом
cmd-chatid = id этого чата
chat-id = id этого чата: <code>{ $id }</code>.
chat-id-topic = id этого чата: <code>{ $id }</code> (тема <code>{ $topic }</code>).
not-allowed =
    🔒 Этому чату (id <code>{ $id }</code>) не разрешено пользоваться ботом, поэтому команды здесь я не выполняю.
    Чтобы разрешить, оператор добавляет <code>{ $id }</code> в UPBOT_ALLOWED_CHATS (id через запятую или * для любого чата) и перезапускает upbot, либо добавляет через API монитор с chat_id <code>{ $id }</code>.
unknown-command = Неизвестная команда { $cmd }. Команды: { $cmds }; { $help } расскажет о них.
send-help = Отправьте { $cmd }, чтобы увидеть команды.
stale = ⌛ Пропустил { $cmd }, отправленную { $ago } назад, пока upbot был недоступен; отправьте её ещё раз, если она ещё нужна.
usage-selector = использование: { $cmd } &lt;id&gt; (см. { $list })
err-internal-chat = ⚠️ На сервере что-то пошло не так; подробности оператор увидит в логе.

## URL push-мониторов в личке

urls-private-head = 🔑 Push-монитор #{ $id } <b>{ $name }</b> в <b>{ $group }</b>
urls-private-keep = Держите их в секрете: кто знает эти URL, тот может отчитываться за монитор. { $cmd } { $id } в группе заменит их.
urls-sent-privately = 🔒 Отправил вам URL в личные сообщения.
urls-cannot-message = 🔒 URL показываются только в личном чате, а написать вам я не могу: откройте личный чат с @{ $bot }, нажмите «Старт» и отправьте сюда { $cmd } { $id }.
urls-anonymous = 🔒 URL показываются только в личном чате, а вы написали анонимно: отправьте { $cmd } { $id } от своего имени, чтобы их получить.
urls-admins-only = 🔒 URL получают только администраторы, в личном чате.
secret-deleted = 🗑 Я удалил ваше сообщение: в нём был секрет.
secret-kept = ⚠️ В вашем сообщении виден секрет, а удалять сообщения здесь мне нельзя: удалите его сами (или сделайте меня администратором с правом удалять сообщения).

## Графики (/graph) и страница статуса (/page)

period-hour = последний час
period-day = последние 24 ч
period-week = последние 7 дней
period-month = последние 30 дней
month = { $m ->
    [1] янв
    [2] фев
    [3] мар
    [4] апр
    [5] мая
    [6] июн
    [7] июл
    [8] авг
    [9] сен
    [10] окт
    [11] ноя
   *[12] дек
}
day-month = { $day } { $month }
graph-no-data = за этот период данных пока нет
graph-uptime = доступность { $uptime }
graph-down = DOWN { $duration }
graph-degraded = DEGRADED { $duration }
graph-incidents = { $count ->
    [0] без инцидентов
    [one] { $count } инцидент
    [few] { $count } инцидента
   *[many] { $count } инцидентов
}
graph-incident = • { $start } UTC, { $end }: DOWN { $duration }
graph-until = до { $time }
graph-still-down = всё ещё DOWN
graph-earlier = … и ещё { $count } раньше
graph-rtt = RTT мин/сред/макс: { $min } / { $avg } / { $max } мс
page-head-on = 🌐 Страница статуса этого чата
page-head-published = 🌐 Опубликовал страницу статуса этого чата
page-targets-shown = Адреса целей показаны.
page-targets-hidden = Адреса целей скрыты ({ $cmd } on targets покажет их).
page-on = { $head }: { $url }
    На ней { $monitors } с состоянием, доступностью за 90 дней и временем отклика. { $targets } Снять: { $cmd } off.
page-taken-down = 🌐 Страница статуса снята; её адрес теперь отвечает 404. { $cmd } on опубликует её по новому адресу.
page-none = У этого чата нет страницы статуса. { $cmd } on опубликует её (только для чтения, для всех, у кого есть ссылка).

## Причины сбоев (хранятся по-английски, переводятся при сообщении в чат)

reason-timed-out = нет ответа
reason-timed-out-after = нет ответа за { $duration }
reason-refused = соединение отклонено
reason-host-unreachable = хост недоступен
reason-network-unreachable = сеть недоступна
reason-network-down = сеть не работает
reason-blocked = заблокировано локальным правилом файрвола
reason-reset = соединение сброшено
reason-aborted = соединение прервано
reason-closed = соединение закрыто
reason-no-local-address = ни один локальный адрес не достаёт до этой цели
reason-no-local-port = нет свободного локального порта
reason-no-family = это семейство адресов здесь не поддерживается
reason-too-many-files = на хосте мониторинга слишком много открытых файлов
reason-out-of-memory = на хосте мониторинга закончилась память
reason-network-error = сетевая ошибка
reason-prohibited = связь запрещена администратором
reason-destination-unreachable = назначение недоступно
reason-time-exceeded = истекло время жизни пакета в пути
reason-icmp-unexpected = неожиданный ICMP: тип { $type }, код { $code }
reason-no-such-host = такого хоста нет
reason-no-addresses = нет адресов
reason-lookup-timed-out = DNS не ответил вовремя
reason-dns-temporary = временный сбой разрешения имён
reason-dns = dns: { $detail }
reason-permission = доступ запрещён: { $detail }
reason-no-raw-socket = для ICMP нужен CAP_NET_RAW
reason-pings-lost = { $count ->
    [one] потерян { $count } из { $count } пинга
    [few] потеряны { $count } из { $count } пингов
    [many] потеряно { $count } из { $count } пингов
   *[other] потеряны { $count } из { $count } пингов
}
reason-loss-window = потери { $pct }% { $count ->
    [one] за последнюю { $count } проверку
    [few] за последние { $count } проверки
   *[many] за последние { $count } проверок
}
reason-no-heartbeat = нет heartbeat уже { $duration }
reason-reported-down = сообщил о DOWN
reason-reported-degraded = сообщил о DEGRADED
reason-not-probed = push-мониторы не проверяются
reason-rule-refused = { $ip } запрещён правилом { $rule } из UPBOT_CHAT_TARGETS
reason-rule-none = { $ip } не разрешён ни одним правилом UPBOT_CHAT_TARGETS

## Ошибки (WS API и CLI показывают английский текст с теми же кодами)

err-usage = использование: { $cmd } { $args }
err-usage-kind = использование: /add { $kind } <host> …
err-field = { $field }: { $error }
err-given-twice = { $field } указан дважды
err-unknown-option = неизвестный параметр { $option }; известные: { $known }
err-unexpected-argument = лишний аргумент { $word }
err-unexpected-argument-kv = лишний аргумент { $word }; параметры пишутся как ключ=значение
err-unexpected-usage = лишнее { $word }; использование: { $cmd } { $args }
err-unbalanced-quote = незакрытая кавычка
err-id-required = нужен id монитора
err-invalid-id = неверный id { $id }
err-target-required = нужна цель (хост, host:port, tcp://host:port, URL http(s):// или имя для типа dns)
err-target-empty = цель пуста
err-target-host = неверный хост { $host }: нужно имя хоста, адрес IPv4 или IPv6
err-target-port = неверный порт { $port }: нужен 1-65535
err-target-ping-port = у цели ping не бывает порта
err-target-scheme = схема { $scheme } не поддерживается: укажите host, host:port или tcp://host:port
err-target-not-unicast = { $host } не адрес хоста (неопределённый, широковещательный или групповой)
err-target-policy = { $host }: { $why }; попросите оператора разрешить
err-port-zero = порт должен быть от 1 до 65535, а указан 0
err-push-only = heartbeat, grace, secret и sign_heartbeats только для push-мониторов (kind push)
err-push-fields = push-мониторы принимают heartbeat, grace, secret и sign_heartbeats; port, timeout, fails, recovers, retries, loss и window к ним не относятся
err-push-name = push-монитору нужно имя: { $error }
err-interval-range = interval должен быть от 1 с до 24 ч, а указано { $got }
err-timeout-longer = timeout не может быть больше интервала
err-timeout-min = timeout должен быть не меньше 100 мс
err-count-range = { $field } должен быть от 1 до { $max }, а указано { $got }
err-ping-only = retries, loss и window бывают только у ping-мониторов (tcp-подключение без ответа и так повторяется один раз)
err-retries-range = retries должен быть от 0 до { $max }, а указано { $got }
err-loss-range = loss должен быть процентом от 1 до 100 или off, а указано { $got }
err-window-range = window должен быть от { $min } до { $max } проверок, а указано { $got }
err-not-loss = { $value } — не порог потерь (процент, например 20 или 20%, либо off)
err-must-be-loss = должно быть процентом, например 20 или "20%", либо "off"
err-heartbeat-range = heartbeat должен быть от 1 с до 90 дней, а указано { $got }
err-grace-range = grace должен быть от 1 с до 90 дней, а указано { $got }
err-sign-needs-secret = для sign_heartbeats=true нужен secret, которым подписывать
err-set-by-chat = { $field } задаёт сам чат
err-parent-unknown = parent={ $id }: монитора #{ $id } здесь нет (см. /list)
err-parent-other-chat = parent={ $id }: #{ $id } оповещает другой чат; родитель должен оповещать этот же чат
err-parent-cycle = parent={ $id } создаст цикл: { $path }
err-parent-depth = в цепочке родителей не больше { $max } уровней
err-name-empty = имя не может быть пустым
err-name-long = имя длиннее { $max } символов
err-name-control = в имени не должно быть управляющих символов
err-secret-form = secret должен состоять из 1–{ $max } печатных символов без пробелов
err-secret-whsec = secret, начинающийся с whsec_, дальше должен быть в base64 (Standard Webhooks)
err-admins-only = менять мониторы могут только администраторы группы
err-no-monitor = монитора #{ $id } нет
err-no-monitor-for = нет монитора для { $host }
err-several-monitors = под { $host } подходят несколько мониторов ({ $ids }); укажите id
err-push-exists = push-монитор с именем { $name } уже есть: #{ $id }
err-already-watched = за { $target } уже следит #{ $id }
err-chat-limit = в этом чате { $count } мониторов, больше UPBOT_CHAT_MAX_MONITORS не позволяет ({ $max }); сначала удалите один
err-duration-required = нужна длительность, например 30m или 2h
err-mute-range = тишина длится от 1 с до 366 дней, а указано { $got }
err-remind-range = напоминание должно быть от 10 с до 30 дней, а указано { $got }
err-muted-with-all = #{ $id } заглушён через all: закончит unmute all
err-not-muted = #{ $id } не заглушён
err-nothing-muted = в этом чате ничего не заглушено
err-not-push = #{ $id } не push-монитор; токен есть только у push-мониторов
err-ack-state = взять в работу можно только монитор в DOWN или DEGRADED; этот сейчас { $state }
err-on-monitor = #{ $id }: { $error }
err-page-say-on = добавьте on: /page on targets
err-title-long = title: не больше { $max } символов
err-title-control = title: без управляющих символов
err-out-of-range = { $value } вне допустимого диапазона
err-not-whole-number = неверное значение { $value }: нужно целое число
err-invalid-duration = неверная длительность { $value }: пишите, например, 30, 30s, 5m
err-invalid-duration-number = неверная длительность { $value }
err-unknown-kind = неизвестный тип { $value }; используйте ping, tcp, push, http или dns
err-not-flag = { $value } — не true и не false
err-must-be-flag = должно быть true или false
err-not-monitor-id = { $value } не id монитора (целое число, например 7)
err-not-scope = { $value } не id монитора (например 7) и не all
err-unknown-period = неизвестный период { $value }; используйте 1h, 24h, 7d или 30d
err-unknown-lang = неизвестный язык { $value }; используйте en, pt, ru или ko

## Предупреждения в ответе

warn-no-icmp = ICMP на этом сервере недоступен ({ $why }): этот ping-монитор останется в ОЖИДАНИИ, пока upbot не запустят с CAP_NET_RAW; tcp-монитор (host:port) тем временем работает
reason-raw-socket-denied = нет прав открыть raw-сокет { $family }: { $detail }

## http- и dns-мониторы: строка настроек в /status, ошибки add, причины сбоев
## (хранятся по-английски; переводятся, когда сообщаем чату)

kind-expect = ожидается { $expect }
kind-keyword = ключевое слово { $keyword }
kind-degraded = DEGRADED при ответе дольше { $limit }
kind-cert-days = предупреждение о сертификате за { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} до истечения
kind-tls-off = сертификат не проверяется
kind-system-resolver = системный резолвер
err-http-port = порт http-монитора указывается в самом URL
err-url-twice = укажите URL один раз: как цель или как url, но не оба
err-field-for-kind = { $field } бывает только у { $kind }-мониторов
err-expect-kind = expect бывает только у http- и dns-мониторов
err-method = method должен быть GET или HEAD, а указано { $got }
err-expect-status = expect: { $part } — не код ответа, не диапазон вида 200-299 и не 2xx
err-expect-codes = expect: укажите коды ответа, например 200-299,301
err-keyword-empty = keyword не может быть пустым (keyword=текст или keyword=!текст — «не должно быть»)
err-keyword-long = keyword длиннее { $max ->
    [one] { $max } символа
   *[other] { $max } символов
}
err-keyword-control = keyword не может содержать управляющие символы
err-keyword-head = для keyword нужно тело ответа, а HEAD его не загружает: используйте method=GET
err-degraded-range = degraded должен быть больше 0 и меньше timeout ({ $timeout })
err-cert-days-range = cert_days должен быть от 0 до { $max }, а указано { $got }
err-record-type = record_type должен быть A, AAAA, MX, TXT или CNAME, а указано { $got }
err-expect-records = expect: укажите записи, которые должны быть в ответе
err-expect-host = expect: { $value } — не имя хоста
err-expect-a = expect: { $value } — не адрес IPv4 (тип A)
err-expect-aaaa = expect: { $value } — не адрес IPv6 (тип AAAA)
err-expect-mx = expect: { $value } — не запись MX (например, "10 mail.example.com")
err-expect-txt = expect: текст TXT пуст
err-target-url-kind = URL — это цель http, а не { $kind }
err-target-http-url = цель http — это URL, например https://{ $host }/health
err-target-http = цель http — это URL
err-target-dns-port = цель dns — это имя для поиска (сервер укажите как server=host:port)
err-target-dns-address = цель dns — это имя для поиска, а не адрес ({ $host })
err-url = неверный URL { $url }: { $why }
err-url-long = длиннее { $max ->
    [one] { $max } символа
   *[other] { $max } символов
}
err-url-credentials = логин и пароль в URL не поддерживаются
err-url-no-host = нет хоста
reason-and = { $first }; { $second }
reason-http-status = HTTP { $status } (ожидался { $expected })
reason-http-redirects = больше { $count ->
    [one] { $count } перенаправления
   *[other] { $count } перенаправлений
}
reason-keyword-missing = ключевое слово «{ $keyword }» не найдено в ответе
reason-keyword-present = ключевое слово «{ $keyword }» найдено в ответе (его не должно быть)
reason-slow = медленный ответ: { $took } (DEGRADED при ответе дольше { $limit })
reason-cert-expires = сертификат истекает через { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
}
reason-cert-expired-today = сертификат истёк сегодня ({ $date })
reason-cert-expired-ago = сертификат истёк { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} назад ({ $date })
reason-cert-expired = сертификат истёк
reason-cert-not-yet = сертификат ещё не действует
reason-cert-untrusted = сертификату нет доверия: неизвестный издатель (самоподписанный или выпущен частным УЦ)
reason-cert-name = сертификат не подходит для { $host }
reason-cert-name-other = сертификат не подходит для { $host } (он выдан для { $names })
reason-cert-revoked = сертификат отозван
reason-cert-signature = у сертификата неверная подпись
reason-cert-invalid = неверный сертификат: { $detail }
reason-no-certificate = сервер не предъявил сертификат
reason-tls-alert = сервер отклонил TLS-рукопожатие (alert { $alert })
reason-tls-failed = TLS-рукопожатие не удалось: { $detail }
reason-tls-closed = соединение закрыто во время TLS-рукопожатия
reason-tls-name = { $host } — недопустимое имя TLS-сервера
reason-closed-early = соединение закрыто до ответа
reason-not-http = ответ сервера — не корректный HTTP
reason-http-failed = HTTP-запрос не удался
reason-body-failed = не удалось прочитать тело ответа
reason-invalid-url = неверный URL { $url }
reason-url-no-host = URL без хоста
reason-redirect-unreadable = перенаправление с нечитаемым Location
reason-redirect-invalid = перенаправление на неверный URL { $url }
reason-redirect-scheme = перенаправление на URL не http(s): { $url }
reason-no-address-allowed = { $host }: ни один адрес не разрешён
reason-server-no-address = { $host }: нет адреса
reason-not-dns-name = { $name } — не DNS-имя
reason-dns-empty = нет записи { $type } для { $name } (пустой ответ)
reason-dns-mismatch = { $name } { $type }: { $answer }, а ожидалось { $expected }
reason-nxdomain = NXDOMAIN: { $name } не существует
reason-servfail = SERVFAIL ({ $server })
reason-dns-refused = REFUSED ({ $server })
reason-dns-code = { $code } ({ $detail }; { $server })
reason-at-server = { $detail } ({ $server })
reason-no-dns-server = нет DNS-сервера для запроса ({ $server })
reason-dns-timeout = нет ответа за { $duration } ({ $server })
reason-dns-failed = DNS-запрос не удался: { $detail }
reason-resolver-config = не удалось прочитать настройки системного резолвера: { $detail }
reason-system-resolver = системный резолвер

## Cluster mode

site-lost = 📡 Площадка <b>{ $site }</b> перестала отчитываться; вердикты учитывают { $counting ->
    [one] { $counting } другую площадку
    [few] { $counting } другие площадки
   *[many] { $counting } других площадок
}, пока она не вернётся.
site-back = 📡 Площадка <b>{ $site }</b> снова отчитывается; вердикты снова её учитывают.
status-sites = площадки (должны согласиться { $need } из { $counted }):
status-site = · { $site }: { $view }
status-site-silent = не отчитывается
status-site-pending = вердикта ещё нет
status-cluster-unreachable = ⚠️ этот узел не видит кластер: показанное может быть устаревшим
err-cluster-unreachable = кластер недоступен с этого узла (NATS); ничего не изменено, повторите, когда он вернётся
err-cluster-conflict = это одновременно изменили на другом узле; проверьте и отправьте команду ещё раз
err-sites-alone = sites и quorum — для режима кластера (UPBOT_NATS_URL); этот upbot работает один
err-sites-empty = в sites должна быть хотя бы одна площадка, например sites=fra,sin
err-sites-many = в sites больше { $max } площадок
err-quorum-range = quorum должен быть от 1 до { $most }, получено { $quorum }
err-push-sites = push-мониторы получают отчёты, их не опрашивают: sites и quorum к ним неприменимы
warn-site-unknown = ни один узел площадки { $site } ещё не отчитался; она будет учитываться, когда отчитается
