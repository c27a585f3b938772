// `logship alerts`: the alerter API's client (alerter/api/api_server.h).
//
//   logship alerts [-c FILE] [--url URL] [--token-file FILE] [--format table|json]
//     list [--all]                                   firing alerts (--all: resolved too)
//     ack ID [--comment TEXT] [--by NAME]            acknowledge (stops repeats/escalation)
//     silence --match k=v [--match k=~re ...] --for 2h --comment TEXT [--by NAME]
//     silences [--all]                               silences (--all: expired too)
//     expire ID                                      end a silence now
//
// The API's URL: --url, else http://<alerter.api.listen> of the config, else
// http://127.0.0.1:9465. The token: $LOGSHIP_ALERTER_TOKEN, else --token-file, else the
// config's alerter.api.token, else <data_dir>/alerter/api-token. The config is -c, or
// /etc/logship/logship.yaml when it exists. Exit codes: 1 usage/config/rejected request,
// 2 the API could not be reached.
#pragma once

namespace CLI {
class App;
}

namespace logship::cli {

void AddAlertsCommand(CLI::App& app);

}  // namespace logship::cli
