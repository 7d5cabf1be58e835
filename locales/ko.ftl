### upbot의 한국어 텍스트.
### en.ftl과 같은 id, 같은 자리표시자를 씁니다. DOWN, UP, DEGRADED는 번역하지 않습니다.

## 단위와 짧은 말

unit-d = { $n }일
unit-h = { $n }시간
unit-m = { $n }분
unit-s = { $n }초
unit-s-frac = { $n }초
unit-ms = { $n }ms
at = { $time } 발생
until = { $at }({ $duration } 후)
every = { $duration }마다
someone = 누군가
an-admin = 관리자
the-operator = 운영자
your-group = 그룹
monitors-count = 모니터 { $count }개
state-pending = 대기 중
state-paused = 일시 중지
lang-name-en = 영어
lang-name-pt = 포르투갈어
lang-name-ru = 러시아어
lang-name-ko = 한국어

## 알림

alert-back-after = { $duration } 중단 후 복구됨
alert-now-up = 이제 UP
alert-recovered = 복구됨
alert-now = 이제 { $state }
alert-changes = <b>변경 { $count }건</b>: { $counts }
storm-header = 🚨 <b>변경 { $count }건</b>: { $counts }
storm-more = … 외 { $count }건 · { $cmd } down 으로 UP이 아닌 모니터를 모두 볼 수 있습니다
count-state = { $state } { $count }건
count-still-down = 여전히 DOWN { $count }건
behind = + 하위 { $count }개
reminder-line = ⏰ { $duration }째 <b>DOWN</b> · #{ $id } { $who }{ $reason } · { $since }부터
mute-ended-line = { $icon } <b>{ $state }</b> #{ $id } { $who }{ $reason } · 이전 { $from } · { $since }부터
acked-notice = ✅ #{ $id } { $who }({ $state }): { $by } 님이 확인했습니다{ $why }. 복구될 때까지 다시 알리지 않습니다.
muted-notice-all = 🔕 { $by } 님이 이 채팅의 모든 모니터를 { $until }까지 음소거했습니다{ $why }. 검사는 계속됩니다.
muted-notice-one = 🔕 { $by } 님이 #{ $id } { $who }를 { $until }까지 음소거했습니다{ $why }. 검사는 계속됩니다.
mute-ended-all-same = 🔔 이 채팅의 모든 모니터 <b>음소거 종료</b>. 그동안 바뀐 것은 없습니다.
mute-ended-one-same = 🔔 #{ $id } { $who } <b>음소거 종료</b>. 그동안 바뀐 것은 없습니다: 현재 { $state }.
mute-ended-changed = 🔔 <b>음소거 종료</b>: 그동안 모니터 { $count }개가 바뀌었습니다({ $counts })
mute-ended-changed-all = 🔔 이 채팅의 모든 모니터 <b>음소거 종료</b>: 그동안 모니터 { $count }개가 바뀌었습니다({ $counts })

## 알림 아래 버튼과 응답

button-ack = ✅ 확인
button-mute = 🔕 1시간 음소거
button-pause = ⏸ 일시 중지
button-stale = 이 버튼은 더 이상 동작하지 않습니다.
press-acked-toast = ✅ 확인했습니다. 복구될 때까지 다시 알리지 않습니다.
press-acked-line = ✅ { $by } 님이 확인함
press-muted-toast = 🔕 { $until }까지 음소거합니다.
press-muted-line = 🔕 { $by } 님이 { $until }까지 음소거함
press-paused-toast = ⏸ 일시 중지했습니다.
press-paused-line = ⏸ { $by } 님이 일시 중지함. { $cmd } { $id } 로 다시 시작합니다
press-done-toast = 완료.
press-done-line = { $by } 님이 처리함: { $reply }

## 명령 응답

added = ✅ #{ $id } <b>{ $name }</b> 추가: { $what }.
added-push = push 모니터 { $name }
added-probe = { $kind } { $target }, { $every }마다
added-tail = DOWN이 되거나 다시 UP이 되면 여기에 알려 드립니다. 삭제: { $cmd } { $id }
rotated = 🔑 #{ $id } <b>{ $name }</b>의 새 토큰입니다. 이전 URL은 더 이상 쓸 수 없습니다.
deleted = 🗑 #{ $id } { $who } 삭제했습니다.
paused = ⏸ #{ $id } { $who } 일시 중지했습니다. 다시 시작: { $cmd } { $id }
resumed = ▶️ #{ $id } { $who } 다시 시작했습니다. 다음 검사 결과가 나올 때까지 대기 중입니다.
acked = ✅ #{ $id } { $who }: { $by } 님이 확인했습니다{ $why }. 복구될 때까지 다시 알리지 않습니다.
muted = 🔕 { $what } { $until }까지 음소거했습니다{ $why }. 검사는 계속되고, 음소거가 끝나면 바뀐 점을 알려 드립니다. 지금 끝내려면: { $cmd } { $end }
muted-what-all = 이 채팅의 모든 모니터({ $count }개)
unmuted = { $changed ->
    [0] 🔔 { $what } 음소거를 해제했습니다. 그동안 바뀐 것은 없습니다.
   *[other] 🔔 { $what } 음소거를 해제했습니다. 그동안 모니터 { $changed }개가 바뀌었습니다(다음 메시지 참고).
}
unmuted-what-chat = 이 채팅
reminders-on = ⏰ { $what }: DOWN인 동안 { $every }마다 다시 알립니다(확인했거나 음소거 중이면 제외).
reminders-off = ⏰ { $what }: 다시 알리지 않습니다.
quiet-on = 🔈 조용한 모드 켬: UP과 복구 메시지는 소리 없이 옵니다. DOWN은 항상 소리가 납니다.
quiet-off = 🔔 조용한 모드 끔: 모든 알림이 소리와 함께 옵니다.
lang-set = 🌐 이제 이 채팅에서는 { $name }로 말합니다. 바꾸려면: { $cmd } en|pt|ru|ko
lang-current = 🌐 이 채팅의 언어는 { $name }입니다. 바꾸려면: { $cmd } en|pt|ru|ko
mark-acked = ✅ { $by } 님이 확인
mark-muted = 🔕 { $until }까지 음소거
list-down-none = 🟢 모든 모니터가 UP입니다. 전체 목록: { $cmd }
list-down-head = <b>UP이 아님: { $count }개</b>
list-empty = 이 채팅에는 아직 모니터가 없습니다. 추가하려면: { $cmd } 192.0.2.10 또는 { $cmd } example.com:443
list-head = <b>모니터 { $count }개</b>
rtt-ms = { $ms }ms
list-loss = 손실 { $pct }%
no-rtt = 아직 RTT 없음
url-webhook = 상태 웹훅(POST): <code>{ $url }</code>
url-heartbeat = 하트비트(GET 또는 POST): <code>{ $url }</code>
push-expected = { $every }마다 예상, 유예 { $grace }
status-head = { $icon } #{ $id } { $who }: <b>{ $state }</b> { $since }
status-since = { $time }부터({ $ago })
status-reason = 원인: { $reason }
status-last-heartbeat = 마지막 하트비트: { $time }
status-settings = { $what } · { $every }마다 · 타임아웃 { $timeout } · 실패 { $fails }회 · 복구 { $recovers }회
status-ping = 재시도 { $retries }회 · 검사 { $window }회 동안 손실 { $loss }% 이상이면 DEGRADED
status-ping-loss-off = 재시도 { $retries }회 · 손실로 인한 DEGRADED: 꺼짐
status-packets = 패킷(24시간): { $sent }개 보냄, { $lost }개 손실({ $pct }%)
status-window = 최근 검사 { $count }회: 손실 { $pct }%
stats-rtt = RTT 최소/평균/최대(24시간): { $rtt }
stats-rtt-values = { $min } / { $avg } / { $max }ms
stats-none-yet = 아직 없음
stats-no-probes = 최근 24시간 동안 검사 없음
stats-loss-of = 손실: 검사 { $probes }회 중 { $loss }%(24시간)
stats-uptime = 가동률 24시간: { $day } · 7일: { $week } · 30일: { $month }
stats-loss-uptime = 손실: { $loss }% · 가동률(24시간): { $uptime }% · 검사 { $probes }회

## 도움말, 메뉴, 그 밖의 채팅 텍스트

help-greeting = 👋 호스트를 지켜보다가 DOWN이 되거나 다시 UP이 되면 이 채팅에 알려 드립니다.
help-commands = <b>명령어</b>
help-options = { $cmd } 옵션: { $keys }
help-examples = 예: { $cmd } 192.0.2.10 · { $cmd } example.com:443 name=web · { $cmd } tcp db.lan 5432 interval=1m · { $cmd } push nightly heartbeat=1d · { $cmd } https://example.com/health keyword=ok · { $cmd } dns example.com type=MX
help-groups = 그룹에서는 관리자만 추가, 삭제, 일시 중지, 재개, 음소거, 다시 알림, 조용한 모드, 언어 변경을 할 수 있습니다. 확인은 누구나 할 수 있습니다.
cmd-add = 호스트, host:port, URL 또는 DNS 이름 감시
cmd-del = 감시 중단
cmd-list = 이 채팅의 모니터
cmd-status = 상태, RTT, 손실, 24시간 가동률
cmd-pause = 삭제하지 않고 검사 중지
cmd-resume = 검사 다시 시작
cmd-rotate = push 모니터의 새 웹훅 URL
cmd-graph = 가동률과 장애가 표시된 응답 시간 그래프
cmd-page = 이 채팅 모니터의 공개 상태 페이지
cmd-ack = 제가 볼게요: 복구될 때까지 다시 알림 없음
cmd-mute = 잠시 알림 보류(검사는 계속)
cmd-unmute = 지금 음소거를 끝내고 바뀐 점 듣기
cmd-remind = DOWN인 동안 다시 알림(확인·음소거 제외)
cmd-quiet = UP 메시지는 소리 없이(DOWN은 항상 소리)
cmd-lang = 채팅 언어: en, pt, ru, ko
cmd-help = 이 봇 사용법
cmd-chatid = 이 채팅의 id
chat-id = 이 채팅의 id는 <code>{ $id }</code>입니다.
chat-id-topic = 이 채팅의 id는 <code>{ $id }</code>입니다(토픽 <code>{ $topic }</code>).
not-allowed =
    🔒 이 채팅(id <code>{ $id }</code>)은 이 봇을 사용할 수 없어서 여기서는 명령을 실행하지 않습니다.
    허용하려면 운영자가 UPBOT_ALLOWED_CHATS에 <code>{ $id }</code>를 추가(쉼표로 구분, 모든 채팅은 *)하고 upbot을 다시 시작하거나, API로 chat_id <code>{ $id }</code>인 모니터를 추가하면 됩니다.
unknown-command = 알 수 없는 명령어 { $cmd }. 명령어: { $cmds } · 설명은 { $help }
send-help = 명령어를 보려면 { $cmd } 을(를) 보내세요.
stale = ⌛ upbot이 꺼져 있는 동안 { $ago } 전에 보낸 { $cmd } 은(는) 실행하지 않았습니다. 아직 필요하면 다시 보내 주세요.
usage-selector = 사용법: { $cmd } &lt;id&gt; ({ $list } 참고)
err-internal-chat = ⚠️ 서버에서 문제가 생겼습니다. 운영자가 로그에서 확인할 수 있습니다.

## 개인 채팅으로 보내는 push URL

urls-private-head = 🔑 <b>{ $group }</b>의 push 모니터 #{ $id } <b>{ $name }</b>
urls-private-keep = 외부에 알리지 마세요. URL을 가진 사람은 누구나 이 모니터의 상태를 보고할 수 있습니다. 그룹에서 { $cmd } { $id } 을(를) 보내면 바뀝니다.
urls-sent-privately = 🔒 URL을 개인 채팅으로 보냈습니다.
urls-cannot-message = 🔒 URL은 개인 채팅에서만 보여 드리는데, 먼저 메시지를 보낼 수가 없습니다. @{ $bot } 와(과) 개인 채팅을 열고 시작을 누른 다음, 여기서 { $cmd } { $id } 을(를) 보내 주세요.
urls-anonymous = 🔒 URL은 개인 채팅에서만 보여 드리는데, 익명으로 보내셨습니다. 본인 계정으로 { $cmd } { $id } 을(를) 보내면 받을 수 있습니다.
urls-admins-only = 🔒 URL은 관리자에게만 개인 채팅으로 보내 드립니다.
secret-deleted = 🗑 비밀 값이 보여서 메시지를 삭제했습니다.
secret-kept = ⚠️ 메시지에 비밀 값이 보이는데 여기서는 메시지를 삭제할 권한이 없습니다. 직접 삭제해 주세요(또는 메시지 삭제 권한이 있는 관리자로 지정해 주세요).

## 그래프(/graph)와 상태 페이지(/page)

period-hour = 최근 1시간
period-day = 최근 24시간
period-week = 최근 7일
period-month = 최근 30일
month = { $m }월
day-month = { $month } { $day }일
graph-no-data = 이 기간에는 아직 데이터가 없습니다
graph-uptime = 가동률 { $uptime }
graph-down = DOWN { $duration }
graph-degraded = DEGRADED { $duration }
graph-incidents = { $count ->
    [0] 장애 없음
   *[other] 장애 { $count }건
}
graph-incident = • { $start } UTC, { $end }: DOWN { $duration }
graph-until = { $time }까지
graph-still-down = 여전히 DOWN
graph-earlier = … 이전 { $count }건
graph-rtt = RTT 최소/평균/최대: { $min } / { $avg } / { $max }ms
page-head-on = 🌐 이 채팅의 상태 페이지
page-head-published = 🌐 이 채팅의 상태 페이지를 게시했습니다
page-targets-shown = 대상 주소가 표시됩니다.
page-targets-hidden = 대상 주소는 숨겨져 있습니다({ $cmd } on targets 로 표시).
page-on = { $head }: { $url }
    { $monitors }의 상태, 90일 가동률, 응답 시간을 보여 줍니다. { $targets } 내리려면: { $cmd } off
page-taken-down = 🌐 상태 페이지를 내렸습니다. 이제 그 주소는 404를 돌려줍니다. { $cmd } on 으로 새 주소에 다시 게시합니다.
page-none = 이 채팅에는 상태 페이지가 없습니다. { $cmd } on 으로 게시합니다(읽기 전용, 링크가 있으면 누구나 볼 수 있음).

## 장애 원인(영어로 저장하고 채팅에 알릴 때 번역)

reason-timed-out = 응답 없음
reason-timed-out-after = { $duration } 안에 응답 없음
reason-refused = 연결 거부됨
reason-host-unreachable = 호스트에 연결할 수 없음
reason-network-unreachable = 네트워크에 연결할 수 없음
reason-network-down = 네트워크가 내려가 있음
reason-blocked = 로컬 방화벽 규칙에 막힘
reason-reset = 연결이 재설정됨
reason-aborted = 연결이 중단됨
reason-closed = 연결이 닫힘
reason-no-local-address = 이 대상에 닿는 로컬 주소가 없음
reason-no-local-port = 남은 로컬 포트가 없음
reason-no-family = 이 주소 체계는 여기서 지원되지 않음
reason-too-many-files = 모니터링 호스트에 열린 파일이 너무 많음
reason-out-of-memory = 모니터링 호스트의 메모리 부족
reason-network-error = 네트워크 오류
reason-prohibited = 관리상 통신이 금지됨
reason-destination-unreachable = 목적지에 연결할 수 없음
reason-time-exceeded = 전송 중 TTL 초과
reason-icmp-unexpected = 예상하지 못한 ICMP: 유형 { $type }, 코드 { $code }
reason-no-such-host = 존재하지 않는 호스트
reason-no-addresses = 주소 없음
reason-lookup-timed-out = DNS 조회 시간 초과
reason-dns-temporary = 이름 확인 일시적 실패
reason-dns = dns: { $detail }
reason-permission = 권한 없음: { $detail }
reason-no-raw-socket = ICMP에는 CAP_NET_RAW가 필요함
reason-pings-lost = 핑 { $count }개 중 { $count }개 손실
reason-loss-window = 최근 검사 { $count }회 동안 손실 { $pct }%
reason-no-heartbeat = { $duration }째 하트비트 없음
reason-reported-down = DOWN 보고됨
reason-reported-degraded = DEGRADED 보고됨
reason-not-probed = push 모니터는 검사하지 않음
reason-rule-refused = { $ip }: UPBOT_CHAT_TARGETS 규칙 { $rule }에 의해 거부됨
reason-rule-none = { $ip }: 허용하는 UPBOT_CHAT_TARGETS 규칙이 없음

## 오류(WS API와 CLI는 같은 코드로 영어 텍스트를 보여 줌)

err-usage = 사용법: { $cmd } { $args }
err-usage-kind = 사용법: /add { $kind } <host> …
err-field = { $field }: { $error }
err-given-twice = { $field } 이(가) 두 번 지정되었습니다
err-unknown-option = 알 수 없는 옵션 { $option }. 가능한 옵션: { $known }
err-unexpected-argument = 예상하지 못한 인수 { $word }
err-unexpected-argument-kv = 예상하지 못한 인수 { $word }. 옵션은 키=값 형식입니다
err-unexpected-usage = 예상하지 못한 { $word }. 사용법: { $cmd } { $args }
err-unbalanced-quote = 따옴표가 닫히지 않았습니다
err-id-required = 모니터 id가 필요합니다
err-invalid-id = 잘못된 id { $id }
err-target-required = 대상이 필요합니다(호스트, host:port, tcp://host:port, http(s):// URL 또는 dns 종류의 이름)
err-target-empty = 대상이 비어 있습니다
err-target-host = 잘못된 호스트 { $host }: 호스트 이름이나 IPv4, IPv6 주소여야 합니다
err-target-port = 잘못된 포트 { $port }: 1-65535여야 합니다
err-target-ping-port = ping 대상에는 포트를 쓰지 않습니다
err-target-scheme = 지원하지 않는 스킴 { $scheme }: host, host:port 또는 tcp://host:port를 쓰세요
err-target-not-unicast = { $host } 은(는) 호스트 주소가 아닙니다(미지정, 브로드캐스트 또는 멀티캐스트)
err-target-policy = { $host }: { $why }. 운영자에게 허용을 요청하세요
err-port-zero = 포트는 1-65535여야 하는데 0입니다
err-push-only = heartbeat, grace, secret, sign_heartbeats는 push 모니터(kind push)에만 씁니다
err-push-fields = push 모니터는 heartbeat, grace, secret, sign_heartbeats를 받습니다. port, timeout, fails, recovers, retries, loss, window는 해당하지 않습니다
err-push-name = push 모니터에는 이름이 필요합니다: { $error }
err-interval-range = interval은 1초에서 24시간 사이여야 하는데 { $got }입니다
err-timeout-longer = timeout은 간격보다 길 수 없습니다
err-timeout-min = timeout은 100ms 이상이어야 합니다
err-count-range = { $field } 은(는) 1에서 { $max } 사이여야 하는데 { $got }입니다
err-ping-only = retries, loss, window는 ping 모니터에만 있습니다(응답 없는 tcp 연결은 늘 한 번 더 시도합니다)
err-retries-range = retries는 0에서 { $max } 사이여야 하는데 { $got }입니다
err-loss-range = loss는 1에서 100 사이의 백분율이나 off여야 하는데 { $got }입니다
err-window-range = window는 검사 { $min }회에서 { $max }회 사이여야 하는데 { $got }입니다
err-not-loss = { $value } 은(는) 손실 기준이 아닙니다(20이나 20% 같은 백분율, 또는 off)
err-must-be-loss = 20이나 "20%" 같은 백분율, 또는 "off"여야 합니다
err-heartbeat-range = heartbeat는 1초에서 90일 사이여야 하는데 { $got }입니다
err-grace-range = grace는 1초에서 90일 사이여야 하는데 { $got }입니다
err-sign-needs-secret = sign_heartbeats=true에는 서명에 쓸 secret이 필요합니다
err-set-by-chat = { $field } 은(는) 채팅이 정합니다
err-parent-unknown = parent={ $id }: 여기에는 #{ $id } 모니터가 없습니다(/list 참고)
err-parent-other-chat = parent={ $id }: #{ $id } 은(는) 다른 채팅에 알립니다. 부모는 같은 채팅에 알려야 합니다
err-parent-cycle = parent={ $id } 이(가) 순환을 만듭니다: { $path }
err-parent-depth = 부모 체인은 최대 { $max }단계입니다
err-name-empty = 이름은 비어 있을 수 없습니다
err-name-long = 이름이 { $max }자를 넘습니다
err-name-control = 이름에 제어 문자를 쓸 수 없습니다
err-secret-form = secret은 공백 없이 출력 가능한 문자 1~{ $max }자여야 합니다
err-secret-whsec = whsec_로 시작하는 secret은 뒤에 base64가 와야 합니다(Standard Webhooks)
err-admins-only = 그룹 관리자만 모니터를 바꿀 수 있습니다
err-no-monitor = #{ $id } 모니터가 없습니다
err-no-monitor-for = { $host } 에 해당하는 모니터가 없습니다
err-several-monitors = { $host } 에 해당하는 모니터가 여러 개입니다({ $ids }). id를 쓰세요
err-push-exists = 이름이 { $name } 인 push 모니터가 이미 있습니다: #{ $id }
err-already-watched = { $target } 은(는) 이미 #{ $id } 로 감시 중입니다
err-chat-limit = 이 채팅에는 모니터가 { $count }개 있어 UPBOT_CHAT_MAX_MONITORS 한도({ $max })에 도달했습니다. 먼저 하나를 삭제하세요
err-duration-required = 기간이 필요합니다. 예: 30m, 2h
err-mute-range = 음소거는 1초에서 366일까지인데 { $got }입니다
err-remind-range = 다시 알림 간격은 10초에서 30일 사이여야 하는데 { $got }입니다
err-muted-with-all = #{ $id } 은(는) all로 음소거되어 있습니다. unmute all로 끝낼 수 있습니다
err-not-muted = #{ $id } 은(는) 음소거되어 있지 않습니다
err-nothing-muted = 이 채팅에는 음소거된 것이 없습니다
err-not-push = #{ $id } 은(는) push 모니터가 아닙니다. 토큰은 push 모니터에만 있습니다
err-ack-state = DOWN이나 DEGRADED인 모니터만 확인할 수 있습니다. 현재 { $state }입니다
err-on-monitor = #{ $id }: { $error }
err-page-say-on = on을 붙이세요: /page on targets
err-title-long = title: 최대 { $max }자입니다
err-title-control = title: 제어 문자를 쓸 수 없습니다
err-out-of-range = { $value } 은(는) 범위를 벗어났습니다
err-not-whole-number = 잘못된 값 { $value }: 정수여야 합니다
err-invalid-duration = 잘못된 기간 { $value }: 예를 들어 30, 30s, 5m처럼 쓰세요
err-invalid-duration-number = 잘못된 기간 { $value }
err-unknown-kind = 알 수 없는 종류 { $value }. ping, tcp, push, http, dns 중에서 쓰세요
err-not-flag = { $value } 은(는) true도 false도 아닙니다
err-must-be-flag = true 또는 false여야 합니다
err-not-monitor-id = { $value } 은(는) 모니터 id가 아닙니다(7 같은 정수)
err-not-scope = { $value } 은(는) 모니터 id(예: 7)도 all도 아닙니다
err-unknown-period = 알 수 없는 기간 { $value }. 1h, 24h, 7d, 30d 중에서 쓰세요
err-unknown-lang = 알 수 없는 언어 { $value }. en, pt, ru, ko 중에서 쓰세요

## 응답에 붙는 경고

warn-no-icmp = 이 서버에서는 ICMP를 쓸 수 없습니다({ $why }). upbot을 CAP_NET_RAW로 실행하기 전까지 이 ping 모니터는 대기 중으로 남습니다. 그동안 tcp 모니터(host:port)는 동작합니다
reason-raw-socket-denied = { $family } raw 소켓을 열 권한이 없음: { $detail }

## http·dns 모니터: /status의 설정 줄, add 오류, 검사 실패 이유
## (영어로 저장되고, 채팅에 알릴 때 번역됩니다)

kind-expect = 기대값 { $expect }
kind-keyword = 키워드 { $keyword }
kind-degraded = { $limit } 넘으면 DEGRADED
kind-cert-days = 만료 { $days }일 전 인증서 경고
kind-tls-off = 인증서 검증 안 함
kind-system-resolver = 시스템 리졸버
err-http-port = http 모니터의 포트는 URL에 포함됩니다
err-url-twice = URL은 한 번만 주세요: 대상이나 url 중 하나로만
err-field-for-kind = { $field } 은(는) { $kind } 모니터에만 씁니다
err-expect-kind = expect는 http와 dns 모니터에만 씁니다
err-method = method는 GET이나 HEAD여야 하는데 { $got }입니다
err-expect-status = expect: { $part } 은(는) 상태 코드도, 200-299 같은 범위도, 2xx도 아닙니다
err-expect-codes = expect: 상태 코드를 주세요. 예: 200-299,301
err-keyword-empty = keyword는 비울 수 없습니다(keyword=텍스트, 또는 포함되면 안 될 때 keyword=!텍스트)
err-keyword-long = keyword가 { $max }자보다 깁니다
err-keyword-control = keyword에는 제어 문자를 쓸 수 없습니다
err-keyword-head = keyword에는 응답 본문이 필요한데 HEAD는 본문을 받지 않습니다: method=GET을 쓰세요
err-degraded-range = degraded는 0보다 크고 timeout({ $timeout })보다 작아야 합니다
err-cert-days-range = cert_days는 0에서 { $max } 사이여야 하는데 { $got }입니다
err-record-type = record_type은 A, AAAA, MX, TXT, CNAME 중 하나여야 하는데 { $got }입니다
err-expect-records = expect: 응답에 있어야 할 레코드를 주세요
err-expect-host = expect: { $value } 은(는) 호스트 이름이 아닙니다
err-expect-a = expect: { $value } 은(는) IPv4 주소가 아닙니다(A 유형)
err-expect-aaaa = expect: { $value } 은(는) IPv6 주소가 아닙니다(AAAA 유형)
err-expect-mx = expect: { $value } 은(는) MX 레코드가 아닙니다(예: "10 mail.example.com")
err-expect-txt = expect: TXT 텍스트가 비어 있습니다
err-target-url-kind = URL은 http 대상이지 { $kind } 대상이 아닙니다
err-target-http-url = http 대상은 URL입니다. 예: https://{ $host }/health
err-target-http = http 대상은 URL입니다
err-target-dns-port = dns 대상은 조회할 이름입니다(서버는 server=host:port로 주세요)
err-target-dns-address = dns 대상은 조회할 이름이지 주소({ $host })가 아닙니다
err-url = 잘못된 URL { $url }: { $why }
err-url-long = { $max }자보다 깁니다
err-url-credentials = URL에 든 인증 정보는 지원하지 않습니다
err-url-no-host = 호스트가 없습니다
reason-and = { $first }; { $second }
reason-http-status = HTTP { $status } ({ $expected } 기대)
reason-http-redirects = 리디렉션 { $count }회 초과
reason-keyword-missing = 응답에 키워드 "{ $keyword }" 없음
reason-keyword-present = 응답에 키워드 "{ $keyword }" 있음(없어야 함)
reason-slow = 느린 응답: { $took }({ $limit } 넘으면 DEGRADED)
reason-cert-expires = 인증서가 { $days }일 후 만료됨
reason-cert-expired-today = 인증서가 오늘 만료됨({ $date })
reason-cert-expired-ago = 인증서가 { $days }일 전에 만료됨({ $date })
reason-cert-expired = 인증서 만료됨
reason-cert-not-yet = 인증서가 아직 유효하지 않음
reason-cert-untrusted = 신뢰할 수 없는 인증서: 알 수 없는 발급자(자체 서명이거나 사설 CA가 서명함)
reason-cert-name = 인증서가 { $host }에 유효하지 않음
reason-cert-name-other = 인증서가 { $host }에 유효하지 않음({ $names }용)
reason-cert-revoked = 인증서 폐기됨
reason-cert-signature = 인증서 서명이 잘못됨
reason-cert-invalid = 잘못된 인증서: { $detail }
reason-no-certificate = 서버가 인증서를 내놓지 않음
reason-tls-alert = 서버가 TLS 핸드셰이크를 거부함(alert { $alert })
reason-tls-failed = TLS 핸드셰이크 실패: { $detail }
reason-tls-closed = TLS 핸드셰이크 중 연결이 닫힘
reason-tls-name = { $host } 은(는) 올바른 TLS 서버 이름이 아님
reason-closed-early = 응답 전에 연결이 닫힘
reason-not-http = 서버 응답이 올바른 HTTP가 아님
reason-http-failed = HTTP 요청 실패
reason-body-failed = 응답 본문 읽기 실패
reason-invalid-url = 잘못된 URL { $url }
reason-url-no-host = 호스트 없는 URL
reason-redirect-unreadable = 읽을 수 없는 Location으로 리디렉션
reason-redirect-invalid = 잘못된 URL { $url }(으)로 리디렉션
reason-redirect-scheme = http(s)가 아닌 URL로 리디렉션: { $url }
reason-no-address-allowed = { $host }: 허용된 주소 없음
reason-server-no-address = { $host }: 주소 없음
reason-not-dns-name = { $name } 은(는) DNS 이름이 아님
reason-dns-empty = { $name }의 { $type } 레코드 없음(빈 응답)
reason-dns-mismatch = { $name } { $type }: { $answer }, 기대값 { $expected }
reason-nxdomain = NXDOMAIN: { $name } 이(가) 존재하지 않음
reason-servfail = { $server }의 SERVFAIL
reason-dns-refused = { $server }의 REFUSED
reason-dns-code = { $server }의 { $code }({ $detail })
reason-at-server = { $detail }({ $server })
reason-no-dns-server = 물어볼 DNS 서버 없음({ $server })
reason-dns-timeout = { $duration } 안에 { $server } 응답 없음
reason-dns-failed = DNS 조회 실패: { $detail }
reason-resolver-config = 시스템 리졸버 설정을 읽을 수 없음: { $detail }
reason-system-resolver = 시스템 리졸버

## Cluster mode

site-lost = 📡 사이트 <b>{ $site }</b>의 보고가 끊겼습니다. 돌아올 때까지 다른 사이트 { $counting }곳으로 판정합니다.
site-back = 📡 사이트 <b>{ $site }</b>가 다시 보고합니다. 판정에 다시 포함합니다.
status-sites = 사이트 ({ $counted }곳 중 { $need }곳이 일치해야 함):
status-site = · { $site }: { $view }
status-site-silent = 보고 없음
status-site-pending = 아직 판정 없음
status-cluster-unreachable = ⚠️ 이 노드는 클러스터에 닿지 않습니다. 보이는 내용이 오래되었을 수 있습니다
err-cluster-unreachable = 이 노드에서 클러스터(NATS)에 연결할 수 없습니다. 아무것도 바뀌지 않았으니 연결이 돌아오면 다시 시도하세요
err-cluster-conflict = 다른 노드에서 같은 순간에 이것을 바꿨습니다. 다시 확인하고 명령을 다시 보내세요
err-sites-alone = sites와 quorum은 클러스터 모드(UPBOT_NATS_URL)용입니다. 이 upbot은 단독으로 실행 중입니다
err-sites-empty = sites에는 사이트가 하나 이상 있어야 합니다. 예: sites=fra,sin
err-sites-many = sites에 사이트가 { $max }곳보다 많습니다
err-quorum-range = quorum은 1에서 { $most } 사이여야 합니다. 받은 값: { $quorum }
err-push-sites = push 모니터는 보고를 받을 뿐 탐지하지 않으므로 sites와 quorum은 적용되지 않습니다
warn-site-unknown = 사이트 { $site }의 노드가 아직 보고하지 않았습니다. 보고하면 판정에 포함됩니다
