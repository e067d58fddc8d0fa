#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/report/report_data.h"

// The report page of one model, for product owners: server-rendered HTML
// with inline SVG charts and a stylesheet in the page, no script and no
// external asset, so that it works offline, as a file, and under a
// Content-Security-Policy of "default-src 'none'". Each chart says in a
// sentence what it shows and whether it is fine, judged by the policy's
// open alerts on it; every figure comes with its sample size.

namespace vigie::report {

std::string RenderReportPage(const ReportData& data);

// The list of models, each linking to its report page.
std::string RenderIndexPage(const std::vector<std::string>& model_ids,
                            absl::Time now);

// A page saying what went wrong (unknown model, not ready).
std::string RenderErrorPage(const std::string& title,
                            const std::string& message);

}  // namespace vigie::report
