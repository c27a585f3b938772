// The alerter API's bearer token when alerter.api.token is not configured: a random one,
// kept in <data_dir>/alerter/api-token (mode 0600) so `logship alerts` on the same machine
// can read it. The token is never logged.
#pragma once

#include <string>

#include "logship/config.h"
#include "logship/status.h"

namespace logship::alerter {

// <data_dir>/alerter/api-token
std::string ApiTokenPath(const std::string& data_dir);
// <data_dir>/alerter/api-address: "host:port" the running API is bound to, written at
// start (so `logship alerts` finds an API configured with port 0).
std::string ApiAddressPath(const std::string& data_dir);
// Reads the file, or creates it with 32 random bytes (64 hex digits) when absent.
Result<std::string> LoadOrCreateApiToken(const std::string& path);
// The token the API of `config` expects: alerter.api.token when set, else the file's
// (created when `create`).
Result<std::string> ApiToken(const Config& config, bool create);

}  // namespace logship::alerter
