#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vigie/v1/vigie.pb.h"

// What a model's report page shows, and how it is gathered: through the
// same queries as the API's (GetMetrics, ListAlerts), so that the page the
// server renders and the file `vigiectl report` writes are the same.

namespace vigie::report {

// One period of the report's time series.
struct Period {
  absl::Time start;
  absl::Time end;
  v1::GetMetricsReply metrics;
};

struct ReportData {
  std::string model_id;
  absl::Time generated_at;
  // Everything kept (counters, the span covered).
  v1::GetMetricsReply all;
  // The recent window the current figures come from: the last
  // `current_length` of event time, ending at the latest pane's end.
  v1::GetMetricsReply current;
  absl::Duration current_length;
  // Consecutive periods of `period_length` ending where `current` ends,
  // oldest first; periods without any pane are left out.
  std::vector<Period> series;
  absl::Duration period_length;
  // The model's alerts: open ones and the latest closed ones.
  v1::ListAlertsReply alerts;
};

struct ReportQueries {
  std::function<absl::StatusOr<v1::GetMetricsReply>(
      const v1::GetMetricsRequest&)>
      metrics;
  std::function<absl::StatusOr<v1::ListAlertsReply>(
      const v1::ListAlertsRequest&)>
      alerts;
};

struct ReportOptions {
  // The window of the current figures. Default: one day.
  absl::Duration current_length = absl::Hours(24);
  // At most this many periods in the series; their length is the shortest
  // of 1 h, 6 h, 1 d, 7 d, 30 d that covers the kept span in that many.
  int max_periods = 30;
  // Over every replica (GetMetricsRequest.model_wide).
  bool model_wide = false;
  // Closed alerts listed at most.
  int max_closed_alerts = 20;
};

// Queries `model_id`'s figures: NOT_FOUND (from the query) for an unknown
// model; any other query error as it came.
absl::StatusOr<ReportData> GatherReport(const ReportQueries& queries,
                                        const std::string& model_id,
                                        const ReportOptions& options,
                                        absl::Time now);

// The period length GatherReport picks for a kept span.
absl::Duration PeriodFor(absl::Duration span, int max_periods);

}  // namespace vigie::report
