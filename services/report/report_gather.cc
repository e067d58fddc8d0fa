#include <algorithm>
#include <utility>

#include "common/status_macros.h"
#include "proto/proto_time.h"
#include "services/report/report_data.h"

namespace vigie::report {

absl::Duration PeriodFor(absl::Duration span, int max_periods) {
  const absl::Duration lengths[] = {absl::Hours(1), absl::Hours(6),
                                    absl::Hours(24), absl::Hours(24 * 7),
                                    absl::Hours(24 * 30)};
  for (const absl::Duration length : lengths) {
    if (span <= length * std::max(max_periods, 1)) return length;
  }
  return lengths[std::size(lengths) - 1];
}

absl::StatusOr<ReportData> GatherReport(const ReportQueries& queries,
                                        const std::string& model_id,
                                        const ReportOptions& options,
                                        absl::Time now) {
  ReportData data;
  data.model_id = model_id;
  data.generated_at = now;
  data.current_length = options.current_length;
  v1::GetMetricsRequest request;
  request.set_model_id(model_id);
  request.set_model_wide(options.model_wide);
  ASSIGN_OR_RETURN(data.all, queries.metrics(request));

  if (data.all.panes() > 0 && data.all.covered().has_end()) {
    // Windows are unions of whole panes, a pane counting where it starts,
    // so any bounds work; they end at the latest pane's end, so that the
    // last period is the most recent data, however old.
    const absl::Time end = FromTimestamp(data.all.covered().end());
    const absl::Time first = data.all.covered().has_start()
                                 ? FromTimestamp(data.all.covered().start())
                                 : end - options.current_length;
    v1::GetMetricsRequest current = request;
    *current.mutable_window()->mutable_start() =
        ToTimestamp(end - options.current_length);
    *current.mutable_window()->mutable_end() = ToTimestamp(end);
    ASSIGN_OR_RETURN(data.current, queries.metrics(current));

    data.period_length = PeriodFor(end - first, options.max_periods);
    const int64_t periods = std::min<int64_t>(
        options.max_periods,
        absl::Ceil(end - first, data.period_length) / data.period_length);
    for (int64_t i = periods - 1; i >= 0; --i) {
      Period period;
      period.start = end - data.period_length * (i + 1);
      period.end = end - data.period_length * i;
      v1::GetMetricsRequest at = request;
      *at.mutable_window()->mutable_start() = ToTimestamp(period.start);
      *at.mutable_window()->mutable_end() = ToTimestamp(period.end);
      ASSIGN_OR_RETURN(period.metrics, queries.metrics(at));
      if (period.metrics.panes() > 0) data.series.push_back(std::move(period));
    }
  } else {
    data.current = data.all;
  }

  v1::ListAlertsRequest alerts;
  alerts.set_model_id(model_id);
  alerts.set_include_resolved(true);
  ASSIGN_OR_RETURN(v1::ListAlertsReply listed, queries.alerts(alerts));
  // Open alerts all; closed ones, the most recently updated first (the
  // reply's order), up to the bound.
  int closed = 0;
  for (v1::Alert& alert : *listed.mutable_alerts()) {
    const bool open = alert.state() == v1::ALERT_STATE_FIRING ||
                      alert.state() == v1::ALERT_STATE_PENDING;
    if (!open && closed++ >= options.max_closed_alerts) continue;
    *data.alerts.add_alerts() = std::move(alert);
  }
  return data;
}

}  // namespace vigie::report
