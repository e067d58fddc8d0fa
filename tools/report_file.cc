#include "tools/report_file.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "services/report/report_data.h"
#include "services/report/report_page.h"

namespace vigie::tools {

absl::Status WriteReport(VigieClient& client, const std::string& model_id,
                         bool model_wide, absl::Duration timeout,
                         const std::string& path) {
  report::ReportQueries queries;
  queries.metrics = [&](const v1::GetMetricsRequest& request) {
    return client.GetMetrics(request, timeout);
  };
  queries.alerts = [&](const v1::ListAlertsRequest& request) {
    return client.ListAlerts(request, timeout);
  };
  report::ReportOptions options;
  options.model_wide = model_wide;
  ASSIGN_OR_RETURN(
      report::ReportData data,
      report::GatherReport(queries, model_id, options, absl::Now()));
  const std::string page = report::RenderReportPage(data);
  if (path == "-") {
    std::cout << page;
    return std::cout.good() ? absl::OkStatus()
                            : absl::UnavailableError("cannot write to stdout");
  }
  const std::string partial = absl::StrCat(path, ".partial");
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << page;
    out.close();
    if (!out) {
      std::remove(partial.c_str());
      return absl::UnavailableError(
          absl::StrCat("cannot write \"", partial, "\""));
    }
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    std::remove(partial.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot move the report into \"", path, "\""));
  }
  return absl::OkStatus();
}

}  // namespace vigie::tools
