#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/client.h"

namespace vigie::tools {

// Gathers `model_id`'s report through `client` (the queries the server's
// own /models/<id> page makes) and writes the page to `path`, through a
// temporary file renamed into place so that a reader never sees half a
// page; "-" writes it to stdout. Each query has `timeout`.
absl::Status WriteReport(VigieClient& client, const std::string& model_id,
                         bool model_wide, absl::Duration timeout,
                         const std::string& path);

}  // namespace vigie::tools
