### Os textos do upbot em português (uso brasileiro).
### Mesmos ids e mesmos placeholders de en.ftl. DOWN, UP e DEGRADED não se traduzem.

## Unidades e palavras curtas

unit-d = { $n } d
unit-h = { $n } h
unit-m = { $n } min
unit-s = { $n } s
unit-s-frac = { $n } s
unit-ms = { $n } ms
at = às { $time }
until = { $at } (daqui a { $duration })
every = a cada { $duration }
someone = alguém
an-admin = um administrador
the-operator = o operador
your-group = seu grupo
monitors-count = { $count ->
    [one] { $count } monitor
   *[other] { $count } monitores
}
state-pending = PENDENTE
state-paused = PAUSADO
lang-name-en = inglês
lang-name-pt = português
lang-name-ru = russo
lang-name-ko = coreano

## Alertas

alert-back-after = voltou após { $duration } fora do ar
alert-now-up = agora UP
alert-recovered = recuperado
alert-now = agora { $state }
alert-changes = <b>{ $count ->
    [one] { $count } mudança
   *[other] { $count } mudanças
}</b>: { $counts }
storm-header = 🚨 <b>{ $count ->
    [one] { $count } mudança
   *[other] { $count } mudanças
}</b>: { $counts }
storm-more = … e mais { $count } · { $cmd } down mostra todos os monitores que não estão UP
count-state = { $count } { $state }
count-still-down = { $count } ainda DOWN
behind = + { $count } atrás dele
reminder-line = ⏰ ainda <b>DOWN</b> há { $duration } · #{ $id } { $who }{ $reason } · desde { $since }
mute-ended-line = { $icon } <b>{ $state }</b> #{ $id } { $who }{ $reason } · antes { $from } · desde { $since }
acked-notice = ✅ #{ $id } { $who } ({ $state }): { $by } assumiu{ $why }. Sem lembretes até se recuperar.
muted-notice-all = 🔕 { $by } silenciou todos os monitores deste chat até { $until }{ $why }. As verificações continuam.
muted-notice-one = 🔕 { $by } silenciou #{ $id } { $who } até { $until }{ $why }. As verificações continuam.
mute-ended-all-same = 🔔 <b>Silêncio encerrado</b> para todos os monitores deste chat; nada mudou enquanto durou.
mute-ended-one-same = 🔔 <b>Silêncio encerrado</b> para #{ $id } { $who }; nada mudou enquanto durou: está { $state }.
mute-ended-changed = 🔔 <b>Silêncio encerrado</b>: { $count ->
    [one] { $count } monitor mudou
   *[other] { $count } monitores mudaram
} enquanto durou ({ $counts })
mute-ended-changed-all = 🔔 <b>Silêncio encerrado</b> para todos os monitores deste chat: { $count ->
    [one] { $count } monitor mudou
   *[other] { $count } monitores mudaram
} enquanto durou ({ $counts })

## Botões sob um alerta e suas respostas

button-ack = ✅ Assumir
button-mute = 🔕 Silenciar 1 h
button-pause = ⏸ Pausar
button-stale = Este botão não faz mais nada.
press-acked-toast = ✅ Assumido. Sem lembretes até se recuperar.
press-acked-line = ✅ Assumido por { $by }
press-muted-toast = 🔕 Silenciado até { $until }.
press-muted-line = 🔕 Silenciado por { $by } até { $until }
press-paused-toast = ⏸ Pausado.
press-paused-line = ⏸ Pausado por { $by }; { $cmd } { $id } retoma
press-done-toast = Feito.
press-done-line = Feito por { $by }: { $reply }

## Respostas aos comandos

added = ✅ Adicionado #{ $id } <b>{ $name }</b>: { $what }.
added-push = monitor push { $name }
added-probe = { $kind } { $target }, a cada { $every }
added-tail = Aviso aqui quando ficar DOWN ou voltar a UP. Para remover: { $cmd } { $id }.
rotated = 🔑 Novo token para #{ $id } <b>{ $name }</b>; as URLs antigas não funcionam mais.
deleted = 🗑 Removido #{ $id } { $who }.
paused = ⏸ Pausado #{ $id } { $who }. Para retomar: { $cmd } { $id }.
resumed = ▶️ Retomado #{ $id } { $who }; fica PENDENTE até as próximas verificações decidirem.
acked = ✅ #{ $id } { $who }: { $by } assumiu{ $why }. Sem lembretes até se recuperar.
muted = 🔕 Silenciado { $what } até { $until }{ $why }. As verificações continuam; quando o silêncio acabar, digo o que mudou. { $cmd } { $end } encerra agora.
muted-what-all = todos os monitores deste chat ({ $count })
unmuted = { $changed ->
    [0] 🔔 Som reativado para { $what }; nada mudou enquanto estava silenciado.
    [one] 🔔 Som reativado para { $what }; { $changed } monitor mudou enquanto estava silenciado (veja a próxima mensagem).
   *[other] 🔔 Som reativado para { $what }; { $changed } monitores mudaram enquanto estava silenciado (veja a próxima mensagem).
}
unmuted-what-chat = este chat
reminders-on = ⏰ { $what }: um lembrete a cada { $every } enquanto estiver DOWN (a menos que assumido ou silenciado).
reminders-off = ⏰ { $what }: sem lembretes.
quiet-on = 🔈 Modo silencioso ligado: mensagens de UP e de recuperação chegam sem som; DOWN sempre com som.
quiet-off = 🔔 Modo silencioso desligado: todo alerta chega com som.
lang-set = 🌐 Agora falo { $name } neste chat. { $cmd } en|pt|ru|ko muda o idioma.
lang-current = 🌐 Neste chat falo { $name }. { $cmd } en|pt|ru|ko muda o idioma.
mark-acked = ✅ { $by } assumiu
mark-muted = 🔕 silenciado até { $until }
list-down-none = 🟢 Todos os monitores estão UP. { $cmd } mostra todos.
list-down-head = <b>{ $count } fora de UP</b>
list-empty = Ainda não há monitores neste chat. Adicione um com { $cmd } 192.0.2.10 ou { $cmd } example.com:443
list-head = <b>{ $count ->
    [one] { $count } monitor
   *[other] { $count } monitores
}</b>
rtt-ms = { $ms } ms
list-loss = { $pct }% de perda
no-rtt = ainda sem RTT
url-webhook = webhook de status (POST): <code>{ $url }</code>
url-heartbeat = heartbeat (GET ou POST): <code>{ $url }</code>
push-expected = esperado a cada { $every }, tolerância { $grace }
status-head = { $icon } #{ $id } { $who } está <b>{ $state }</b> { $since }
status-since = desde { $time } (há { $ago })
status-reason = motivo: { $reason }
status-last-heartbeat = último heartbeat: { $time }
status-settings = { $what } · a cada { $every } · timeout { $timeout } · falhas { $fails } · recuperações { $recovers }
status-ping = retries { $retries } · DEGRADED a partir de { $loss }% de perda em { $window } verificações
status-ping-loss-off = retries { $retries } · DEGRADED por perda: desligado
status-packets = pacotes (24 h): { $sent } enviados, { $lost } perdidos ({ $pct }%)
status-window = { $count ->
    [one] última verificação
   *[other] últimas { $count } verificações
}: { $pct }% de perda
stats-rtt = RTT mín/méd/máx (24 h): { $rtt }
stats-rtt-values = { $min } / { $avg } / { $max } ms
stats-none-yet = ainda nenhum
stats-no-probes = nenhuma verificação nas últimas 24 h
stats-loss-of = perda: { $loss }% de { $probes ->
    [one] { $probes } verificação
   *[other] { $probes } verificações
} (24 h)
stats-uptime = disponibilidade 24 h: { $day } · 7 d: { $week } · 30 d: { $month }
stats-loss-uptime = perda: { $loss }% · disponibilidade (24 h): { $uptime }% · { $probes ->
    [one] { $probes } verificação
   *[other] { $probes } verificações
}

## Ajuda, menus e outros textos do chat

help-greeting = 👋 Eu vigio hosts e aviso este chat quando ficam DOWN e quando voltam a UP.
help-commands = <b>Comandos</b>
help-options = opções de { $cmd }: { $keys }
help-examples = Exemplos: { $cmd } 192.0.2.10 · { $cmd } example.com:443 name=web · { $cmd } tcp db.lan 5432 interval=1m · { $cmd } push nightly heartbeat=1d · { $cmd } https://example.com/health keyword=ok · { $cmd } dns example.com type=MX
help-groups = Em grupos, só administradores podem adicionar, remover, pausar, retomar, silenciar, programar lembretes, usar o modo silencioso ou mudar o idioma; qualquer um pode assumir.
cmd-add = vigiar um host, host:porta, URL ou nome DNS
cmd-del = parar de vigiar
cmd-list = os monitores deste chat
cmd-status = estado, RTT, perda, disponibilidade em 24 h
cmd-pause = parar as verificações sem remover
cmd-resume = retomar as verificações
cmd-rotate = novas URLs de webhook para um monitor push
cmd-graph = gráfico de tempo de resposta com disponibilidade e incidentes
cmd-page = página de status pública dos monitores deste chat
cmd-ack = estou cuidando disso: sem lembretes até se recuperar
cmd-mute = segurar alertas por um tempo; as verificações continuam
cmd-unmute = encerrar o silêncio agora e saber o que mudou
cmd-remind = lembrar enquanto estiver DOWN (nem assumido nem silenciado)
cmd-quiet = mensagens de UP sem som (DOWN sempre com som)
cmd-lang = o idioma do chat: en, pt, ru ou ko
cmd-help = como usar este bot
cmd-chatid = o id deste chat
chat-id = O id deste chat é <code>{ $id }</code>.
chat-id-topic = O id deste chat é <code>{ $id }</code> (tópico <code>{ $topic }</code>).
not-allowed =
    🔒 Este chat (id <code>{ $id }</code>) não tem permissão para usar este bot, então não vou executar comandos aqui.
    Para liberar, o operador adiciona <code>{ $id }</code> a UPBOT_ALLOWED_CHATS (ids separados por vírgula, ou * para qualquer chat) e reinicia o upbot, ou adiciona pela API um monitor com chat_id <code>{ $id }</code>.
unknown-command = Comando desconhecido { $cmd }. Comandos: { $cmds }; { $help } explica cada um.
send-help = Envie { $cmd } para ver os comandos.
stale = ⌛ Ignorei { $cmd } enviado há { $ago } enquanto o upbot estava fora do ar; envie de novo se ainda quiser.
usage-selector = uso: { $cmd } &lt;id&gt; (veja { $list })
err-internal-chat = ⚠️ Algo deu errado no servidor; o operador pode ver os detalhes no log.

## URLs de push no privado

urls-private-head = 🔑 Monitor push #{ $id } <b>{ $name }</b> em <b>{ $group }</b>
urls-private-keep = Guarde-as em segredo: quem as tiver pode reportar por este monitor. { $cmd } { $id } no grupo troca as URLs.
urls-sent-privately = 🔒 Enviei as URLs para você no privado.
urls-cannot-message = 🔒 As URLs só aparecem em chat privado, e não consigo falar com você: abra um chat privado com @{ $bot }, toque em Iniciar e depois envie { $cmd } { $id } aqui.
urls-anonymous = 🔒 As URLs só aparecem em chat privado, e você postou como anônimo: envie { $cmd } { $id } com sua própria conta para recebê-las.
urls-admins-only = 🔒 Só administradores recebem as URLs, em chat privado.
secret-deleted = 🗑 Apaguei sua mensagem: ela mostrava um segredo.
secret-kept = ⚠️ Sua mensagem mostra um segredo e não tenho permissão para apagar mensagens aqui: apague-a você mesmo (ou me torne administrador com permissão para apagar mensagens).

## Gráficos (/graph) e a página de status (/page)

period-hour = última hora
period-day = últimas 24 h
period-week = últimos 7 dias
period-month = últimos 30 dias
month = { $m ->
    [1] jan
    [2] fev
    [3] mar
    [4] abr
    [5] mai
    [6] jun
    [7] jul
    [8] ago
    [9] set
    [10] out
    [11] nov
   *[12] dez
}
day-month = { $day } { $month }
graph-no-data = ainda sem dados neste período
graph-uptime = disponibilidade { $uptime }
graph-down = DOWN { $duration }
graph-degraded = DEGRADED { $duration }
graph-incidents = { $count ->
    [0] nenhum incidente
    [one] { $count } incidente
   *[other] { $count } incidentes
}
graph-incident = • { $start } UTC, { $end }: DOWN { $duration }
graph-until = até { $time }
graph-still-down = ainda DOWN
graph-earlier = … e mais { $count } antes
graph-rtt = RTT mín/méd/máx: { $min } / { $avg } / { $max } ms
page-head-on = 🌐 A página de status deste chat
page-head-published = 🌐 Publiquei a página de status deste chat
page-targets-shown = Os alvos aparecem.
page-targets-hidden = Os alvos ficam ocultos ({ $cmd } on targets os mostra).
page-on = { $head }: { $url }
    Ela mostra { $monitors } com o estado, 90 dias de disponibilidade e os tempos de resposta. { $targets } Para tirar do ar: { $cmd } off.
page-taken-down = 🌐 A página de status saiu do ar; o endereço agora responde 404. { $cmd } on publica de novo em outro endereço.
page-none = Este chat não tem página de status. { $cmd } on publica uma (somente leitura, para quem tiver o link).

## Motivos de falha (guardados em inglês; traduzidos ao avisar o chat)

reason-timed-out = tempo esgotado
reason-timed-out-after = tempo esgotado após { $duration }
reason-refused = conexão recusada
reason-host-unreachable = host inacessível
reason-network-unreachable = rede inacessível
reason-network-down = a rede está fora do ar
reason-blocked = bloqueado por uma regra de firewall local
reason-reset = conexão redefinida
reason-aborted = conexão abortada
reason-closed = conexão fechada
reason-no-local-address = nenhum endereço local alcança este alvo
reason-no-local-port = nenhuma porta local livre
reason-no-family = esta família de endereços não é suportada aqui
reason-too-many-files = arquivos abertos demais no host de monitoramento
reason-out-of-memory = memória esgotada no host de monitoramento
reason-network-error = erro de rede
reason-prohibited = comunicação proibida administrativamente
reason-destination-unreachable = destino inacessível
reason-time-exceeded = tempo de vida esgotado no caminho
reason-icmp-unexpected = ICMP inesperado: tipo { $type }, código { $code }
reason-no-such-host = host inexistente
reason-no-addresses = nenhum endereço
reason-lookup-timed-out = consulta DNS sem resposta
reason-dns-temporary = falha temporária na resolução de nomes
reason-dns = dns: { $detail }
reason-permission = permissão negada: { $detail }
reason-no-raw-socket = ICMP precisa de CAP_NET_RAW
reason-pings-lost = { $count ->
    [one] { $count } de { $count } ping perdido
   *[other] { $count } de { $count } pings perdidos
}
reason-loss-window = { $pct }% de perda nas últimas { $count } verificações
reason-no-heartbeat = sem heartbeat há { $duration }
reason-reported-down = reportou DOWN
reason-reported-degraded = reportou DEGRADED
reason-not-probed = monitores push não são verificados
reason-rule-refused = { $ip } é recusado pela regra { $rule } de UPBOT_CHAT_TARGETS
reason-rule-none = { $ip } não é permitido por nenhuma regra de UPBOT_CHAT_TARGETS

## Erros (a API WS e a CLI mostram o texto em inglês, com os mesmos códigos)

err-usage = uso: { $cmd } { $args }
err-usage-kind = uso: /add { $kind } <host> …
err-field = { $field }: { $error }
err-given-twice = { $field } foi informado duas vezes
err-unknown-option = opção desconhecida { $option }; conhecidas: { $known }
err-unexpected-argument = argumento inesperado { $word }
err-unexpected-argument-kv = argumento inesperado { $word }; as opções são chave=valor
err-unexpected-usage = { $word } inesperado; uso: { $cmd } { $args }
err-unbalanced-quote = aspas sem fechamento
err-id-required = é preciso informar o id de um monitor
err-invalid-id = id inválido { $id }
err-target-required = informe o alvo (um host, host:porta, tcp://host:porta, uma URL http(s):// ou um nome, para o tipo dns)
err-target-empty = o alvo está vazio
err-target-host = host inválido { $host }: esperava um nome de host, endereço IPv4 ou IPv6
err-target-port = porta inválida { $port }: esperava 1-65535
err-target-ping-port = um alvo de ping não leva porta
err-target-scheme = esquema não suportado { $scheme }: use host, host:porta ou tcp://host:porta
err-target-not-unicast = { $host } não é endereço de um host (não especificado, broadcast ou multicast)
err-target-policy = { $host }: { $why }; peça ao operador para liberar
err-port-zero = a porta deve estar entre 1 e 65535, veio 0
err-push-only = heartbeat, grace, secret e sign_heartbeats são para monitores push (kind push)
err-push-fields = monitores push aceitam heartbeat, grace, secret e sign_heartbeats; port, timeout, fails, recovers, retries, loss e window não se aplicam
err-push-name = monitores push precisam de um nome: { $error }
err-interval-range = interval deve ficar entre 1 s e 24 h, veio { $got }
err-timeout-longer = timeout não pode ser maior que o intervalo
err-timeout-min = timeout deve ser de pelo menos 100 ms
err-count-range = { $field } deve ficar entre 1 e { $max }, veio { $got }
err-ping-only = retries, loss e window são para monitores ping (uma conexão tcp sem resposta sempre é tentada mais uma vez)
err-retries-range = retries deve ficar entre 0 e { $max }, veio { $got }
err-loss-range = loss deve ser uma porcentagem de 1 a 100, ou off; veio { $got }
err-window-range = window deve ficar entre { $min } e { $max } verificações, veio { $got }
err-not-loss = { $value } não é um limite de perda (uma porcentagem como 20 ou 20%, ou off)
err-must-be-loss = deve ser uma porcentagem como 20 ou "20%", ou "off"
err-heartbeat-range = heartbeat deve ficar entre 1 s e 90 dias, veio { $got }
err-grace-range = grace deve ficar entre 1 s e 90 dias, veio { $got }
err-sign-needs-secret = sign_heartbeats=true precisa de um secret para assinar
err-set-by-chat = { $field } é definido pelo próprio chat
err-parent-unknown = parent={ $id }: não há monitor #{ $id } aqui (veja /list)
err-parent-other-chat = parent={ $id }: #{ $id } alerta outro chat; o pai precisa alertar o mesmo chat
err-parent-cycle = parent={ $id } criaria um ciclo: { $path }
err-parent-depth = cadeias de pais têm no máximo { $max } níveis
err-name-empty = o nome não pode ser vazio
err-name-long = o nome passa de { $max } caracteres
err-name-control = o nome não pode ter caracteres de controle
err-secret-form = o secret deve ter de 1 a { $max } caracteres imprimíveis, sem espaços
err-secret-whsec = um secret que começa com whsec_ deve continuar em base64 (Standard Webhooks)
err-admins-only = só administradores do grupo podem alterar monitores
err-no-monitor = não há monitor #{ $id }
err-no-monitor-for = não há monitor para { $host }
err-several-monitors = { $host } corresponde a vários monitores ({ $ids }); use o id
err-push-exists = já existe um monitor push chamado { $name }: #{ $id }
err-already-watched = { $target } já é vigiado como #{ $id }
err-chat-limit = este chat tem { $count } monitores, o máximo que UPBOT_CHAT_MAX_MONITORS permite ({ $max }); remova um antes
err-duration-required = informe uma duração, por exemplo 30m ou 2h
err-mute-range = um silêncio dura de 1 s a 366 dias, veio { $got }
err-remind-range = o lembrete deve ficar entre 10 s e 30 dias, veio { $got }
err-muted-with-all = #{ $id } está silenciado pelo all: unmute all encerra
err-not-muted = #{ $id } não está silenciado
err-nothing-muted = nada está silenciado neste chat
err-not-push = #{ $id } não é um monitor push; só monitores push têm token
err-ack-state = só um monitor DOWN ou DEGRADED pode ser assumido; ele está { $state }
err-on-monitor = #{ $id }: { $error }
err-page-say-on = diga on: /page on targets
err-title-long = title: no máximo { $max } caracteres
err-title-control = title: sem caracteres de controle
err-out-of-range = { $value } está fora do intervalo
err-not-whole-number = valor inválido { $value }: esperava um número inteiro
err-invalid-duration = duração inválida { $value }: use por exemplo 30, 30s, 5m
err-invalid-duration-number = duração inválida { $value }
err-unknown-kind = tipo desconhecido { $value }; use ping, tcp, push, http ou dns
err-not-flag = { $value } não é true nem false
err-must-be-flag = deve ser true ou false
err-not-monitor-id = { $value } não é id de monitor (um número inteiro, como 7)
err-not-scope = { $value } não é id de monitor (como 7) nem all
err-unknown-period = período desconhecido { $value }; use 1h, 24h, 7d ou 30d
err-unknown-lang = idioma desconhecido { $value }; use en, pt, ru ou ko

## Avisos numa resposta

warn-no-icmp = ICMP não está disponível neste servidor ({ $why }): este monitor de ping fica PENDENTE até o upbot rodar com CAP_NET_RAW; enquanto isso, um monitor tcp (host:porta) funciona
reason-raw-socket-denied = permissão negada ao abrir um socket raw { $family }: { $detail }

## Monitores http e dns: a linha de configurações no /status, os erros do add, os
## motivos de falha (guardados em inglês; traduzidos quando o chat é avisado)

kind-expect = esperado { $expect }
kind-keyword = palavra-chave { $keyword }
kind-degraded = DEGRADED acima de { $limit }
kind-cert-days = aviso do certificado { $days } dias antes de expirar
kind-tls-off = certificado não verificado
kind-system-resolver = resolvedor do sistema
err-http-port = a porta de um monitor http faz parte da URL
err-url-twice = informe a URL uma vez só: como alvo ou como url, não os dois
err-field-for-kind = { $field } é para monitores { $kind }
err-expect-kind = expect é para monitores http e dns
err-method = method deve ser GET ou HEAD, veio { $got }
err-expect-status = expect: { $part } não é um código de status, uma faixa como 200-299 nem 2xx
err-expect-codes = expect: informe códigos de status, p. ex. 200-299,301
err-keyword-empty = keyword não pode ficar vazio (keyword=texto, ou keyword=!texto para "não pode conter")
err-keyword-long = keyword tem mais de { $max } caracteres
err-keyword-control = keyword não pode conter caracteres de controle
err-keyword-head = keyword precisa do corpo da resposta, que o HEAD não busca: use method=GET
err-degraded-range = degraded deve ser maior que 0 e menor que o timeout ({ $timeout })
err-cert-days-range = cert_days deve ficar entre 0 e { $max }, veio { $got }
err-record-type = record_type deve ser A, AAAA, MX, TXT ou CNAME, veio { $got }
err-expect-records = expect: informe os registros que a resposta deve conter
err-expect-host = expect: { $value } não é um nome de host
err-expect-a = expect: { $value } não é um endereço IPv4 (tipo A)
err-expect-aaaa = expect: { $value } não é um endereço IPv6 (tipo AAAA)
err-expect-mx = expect: { $value } não é um registro MX (p. ex. "10 mail.example.com")
err-expect-txt = expect: o texto TXT está vazio
err-target-url-kind = uma URL é um alvo http, não { $kind }
err-target-http-url = o alvo http é uma URL, p. ex. https://{ $host }/health
err-target-http = o alvo http é uma URL
err-target-dns-port = o alvo dns é um nome a consultar (informe o servidor como server=host:porta)
err-target-dns-address = o alvo dns é um nome a consultar, não um endereço ({ $host })
err-url = URL inválida { $url }: { $why }
err-url-long = mais de { $max } caracteres
err-url-credentials = credenciais na URL não são suportadas
err-url-no-host = sem host
reason-and = { $first }; { $second }
reason-http-status = HTTP { $status } (esperado { $expected })
reason-http-redirects = mais de { $count } redirecionamentos
reason-keyword-missing = palavra-chave "{ $keyword }" não encontrada na resposta
reason-keyword-present = palavra-chave "{ $keyword }" encontrada na resposta (não deveria estar)
reason-slow = resposta lenta: { $took } (DEGRADED acima de { $limit })
reason-cert-expires = o certificado expira em { $days ->
    [one] { $days } dia
   *[other] { $days } dias
}
reason-cert-expired-today = o certificado expirou hoje ({ $date })
reason-cert-expired-ago = o certificado expirou há { $days ->
    [one] { $days } dia
   *[other] { $days } dias
} ({ $date })
reason-cert-expired = certificado expirado
reason-cert-not-yet = o certificado ainda não é válido
reason-cert-untrusted = certificado não confiável: emissor desconhecido (autoassinado ou assinado por uma CA privada)
reason-cert-name = o certificado não é válido para { $host }
reason-cert-name-other = o certificado não é válido para { $host } (ele é para { $names })
reason-cert-revoked = certificado revogado
reason-cert-signature = o certificado tem uma assinatura inválida
reason-cert-invalid = certificado inválido: { $detail }
reason-no-certificate = o servidor não apresentou certificado
reason-tls-alert = o servidor recusou o handshake TLS (alerta { $alert })
reason-tls-failed = o handshake TLS falhou: { $detail }
reason-tls-closed = conexão fechada durante o handshake TLS
reason-tls-name = { $host } não é um nome de servidor TLS válido
reason-closed-early = conexão fechada antes da resposta
reason-not-http = a resposta do servidor não é HTTP válido
reason-http-failed = a requisição HTTP falhou
reason-body-failed = falha ao ler o corpo da resposta
reason-invalid-url = URL inválida { $url }
reason-url-no-host = URL sem host
reason-redirect-unreadable = redirecionamento com um Location ilegível
reason-redirect-invalid = redirecionamento para uma URL inválida { $url }
reason-redirect-scheme = redirecionamento para uma URL que não é http(s): { $url }
reason-no-address-allowed = { $host }: nenhum endereço permitido
reason-server-no-address = { $host }: nenhum endereço
reason-not-dns-name = { $name } não é um nome DNS
reason-dns-empty = nenhum registro { $type } para { $name } (resposta vazia)
reason-dns-mismatch = { $name } { $type } é { $answer }, esperado { $expected }
reason-nxdomain = NXDOMAIN: { $name } não existe
reason-servfail = SERVFAIL ({ $server })
reason-dns-refused = REFUSED ({ $server })
reason-dns-code = { $code } ({ $detail }; { $server })
reason-at-server = { $detail } ({ $server })
reason-no-dns-server = nenhum servidor DNS para consultar ({ $server })
reason-dns-timeout = tempo esgotado após { $duration } ({ $server })
reason-dns-failed = a consulta DNS falhou: { $detail }
reason-resolver-config = não foi possível ler a configuração do resolvedor do sistema: { $detail }
reason-system-resolver = resolvedor do sistema

## Cluster mode

site-lost = 📡 O site <b>{ $site }</b> parou de reportar; os veredictos contam { $counting ->
    [one] o outro site
   *[other] os outros { $counting } sites
} até ele voltar.
site-back = 📡 O site <b>{ $site }</b> voltou a reportar; os veredictos voltam a contá-lo.
status-sites = sites ({ $need } de { $counted } precisam concordar):
status-site = · { $site }: { $view }
status-site-silent = sem reportar
status-site-pending = ainda sem veredicto
status-cluster-unreachable = ⚠️ este nó não alcança o cluster: o que ele mostra pode estar desatualizado
err-cluster-unreachable = o cluster está inacessível a partir deste nó (NATS); nada foi alterado, tente de novo quando ele voltar
err-cluster-conflict = isto foi alterado em outro nó no mesmo instante; confira e envie o comando de novo
err-sites-alone = sites e quorum são do modo cluster (UPBOT_NATS_URL); este upbot roda sozinho
err-sites-empty = sites precisa nomear ao menos um site, ex.: sites=fra,sin
err-sites-many = sites nomeia mais de { $max } sites
err-quorum-range = quorum deve estar entre 1 e { $most }, recebido { $quorum }
err-push-sites = monitores push recebem relatos, não são sondados: sites e quorum não se aplicam
warn-site-unknown = nenhum nó do site { $site } reportou ainda; ele passa a contar quando reportar
