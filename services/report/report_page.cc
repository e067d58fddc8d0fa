#include "services/report/report_page.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/alert_names.h"
#include "proto/proto_time.h"
#include "rules/policy.h"
#include "services/report/html.h"
#include "services/report/report_links.h"
#include "services/report/report_sections.h"

namespace vigie::report {
namespace {

constexpr const char* kStyle = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;
 color:#1d2329;background:#f6f7f9;line-height:1.45}
header{background:#1d2b3a;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:1.5em}header p{margin:4px 0 0;color:#c9d3de}
main{max-width:1000px;margin:0 auto;padding:8px 24px 40px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;
 margin:18px 0;padding:8px 20px 16px}
h2{font-size:1.25em;margin:12px 0 4px}h3{font-size:1.05em;margin:16px 0 4px}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}
th,td{border-bottom:1px solid #e6e9ee;padding:3px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f0f2f5;font-weight:600}
td.text{text-align:left}.scroll{overflow-x:auto}
figure{margin:10px 0}figcaption{font-size:.92em;color:#3c4650;margin-top:2px}
.verdict{padding:6px 10px;border-radius:4px;margin:8px 0}
.fine{background:#e8f5ec;border-left:4px solid #2e8b57}
.attention{background:#fdecea;border-left:4px solid #c0392b}
.unsure{background:#fff6e0;border-left:4px solid #d4a017}
.muted{fill:#777;color:#777}
nav a{margin-right:14px;color:#fff}
svg text{font-size:11px;fill:#3c4650}
svg .grid{stroke:#e6e9ee}svg .axis{stroke:#8a949e}
svg .reference{stroke:#c0392b;stroke-dasharray:5 4}
svg .reference-label{fill:#c0392b}svg .interval{stroke:#0072B2}
.critical{color:#a93226;font-weight:600}.warning{color:#9a6b00;font-weight:600}
footer{color:#6b7580;font-size:.85em;margin-top:24px}
)css";

std::string Page(const std::string& title, const std::string& header,
                 const std::string& body) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>",
      Escape(title), "</title><style>", kStyle, "</style></head><body>",
      "<header>", header, "</header><main>", body, "<footer>Vigie ",
      VIGIE_VERSION,
      ". Figures are computed over event time from the model's kept panes; "
      "the thresholds and citations are those of the running policy "
      "(referential labelia-dsrc@v202301).</footer></main></body></html>\n");
}

bool IsOpen(const v1::Alert& alert) {
  return alert.state() == v1::ALERT_STATE_FIRING ||
         alert.state() == v1::ALERT_STATE_PENDING;
}

std::string ScopeText(const v1::Alert& alert) {
  std::vector<std::pair<std::string, std::string>> scope;
  for (const auto& [key, value] : alert.scope()) {
    if (!value.empty()) scope.emplace_back(key, value);
  }
  std::sort(scope.begin(), scope.end());
  return scope.empty() ? std::string("model")
                       : absl::StrJoin(scope, ", ", absl::PairFormatter("="));
}

std::string SampleText(const v1::Alert& alert) {
  return alert.samples().empty() ? "—" : AlertSamples(alert);
}

std::string AlertRow(const v1::Alert& alert) {
  const bool data = alert.severity() != v1::SEVERITY_INSUFFICIENT_DATA;
  std::string value = data ? Number(alert.value()) : "—";
  if (data && alert.has_value_interval()) {
    absl::StrAppend(&value, " [", Number(alert.value_interval().lower()), ", ",
                    Number(alert.value_interval().upper()), "]");
  }
  const std::string threshold =
      data ? absl::StrCat(alert.comparison(), " ", Number(alert.threshold()))
           : "—";
  return absl::StrCat(
      "<tr><td class=\"", SeverityName(alert.severity()), "\">",
      SeverityName(alert.severity()), "</td><td class=\"text\">",
      AlertStateName(alert.state()), "</td><td class=\"text\">",
      Escape(alert.rule_id()), "</td><td class=\"text\">",
      Escape(alert.summary().empty() ? alert.message() : alert.summary()),
      "<br><small>", Escape(ScopeText(alert)), "</small></td><td>",
      Escape(value), "</td><td>", Escape(threshold), "</td><td class=\"text\">",
      Escape(SampleText(alert)), "</td><td class=\"text\">",
      Escape(AlertCitation(alert)), "</td><td class=\"text\">",
      // Open: since it started; closed: when it closed.
      Escape(Time(FromTimestamp(IsOpen(alert) ? alert.started_at()
                                              : alert.updated_at()))),
      "</td></tr>");
}

constexpr const char* kAlertHead =
    "<tr><th>severity</th><th>state</th><th>rule</th><th>what</th>"
    "<th>value [95% interval]</th><th>threshold</th><th>samples</th>"
    "<th>commitment</th><th>since (open), at (closed)</th></tr>";

}  // namespace

Family FamilyOf(absl::string_view metric) {
  static const std::pair<const char*, Family> kFamilies[] = {
      {rules::kEqualizedOddsDifference, Family::kFairness},
      {rules::kDemographicParityDifference, Family::kFairness},
      {rules::kDemographicParityRatio, Family::kFairness},
      {rules::kTruePositiveRateDifference, Family::kFairness},
      {rules::kFalsePositiveRateDifference, Family::kFairness},
      {rules::kExpectedCalibrationError, Family::kCalibration},
      {rules::kConformalCoverage, Family::kCoverage},
      {rules::kGroupConformalCoverage, Family::kCoverage},
      {rules::kConformalSizeChange, Family::kCoverage},
      {rules::kPopulationStabilityIndex, Family::kDrift},
      {rules::kFeatureDrift, Family::kDrift},
      {rules::kDriftedFeatureShare, Family::kDrift},
      {rules::kErrorRateChanges, Family::kDrift},
      {rules::kErrorChangeWindows, Family::kDrift},
      {rules::kRecommendationDiversity, Family::kRecommendation},
      {rules::kRecommendationNovelty, Family::kRecommendation},
      {rules::kCatalogueCoverage, Family::kRecommendation},
      {rules::kExposureGini, Family::kRecommendation},
      {rules::kFootprintPer1000, Family::kFootprint},
  };
  for (const auto& [name, family] : kFamilies) {
    if (metric == name) return family;
  }
  return Family::kOther;
}

std::vector<const v1::Alert*> OpenAlerts(
    const ReportData& data, Family family,
    const std::vector<std::pair<std::string, std::string>>& scope) {
  std::vector<const v1::Alert*> out;
  for (const v1::Alert& alert : data.alerts.alerts()) {
    if (!IsOpen(alert) || FamilyOf(alert.metric()) != family) continue;
    const bool in_scope =
        std::all_of(scope.begin(), scope.end(), [&](const auto& entry) {
          const auto it = alert.scope().find(entry.first);
          return it != alert.scope().end() && it->second == entry.second;
        });
    if (in_scope) out.push_back(&alert);
  }
  return out;
}

std::string Verdict(const std::vector<const v1::Alert*>& alerts) {
  std::vector<std::string> breaches, unsure;
  for (const v1::Alert* alert : alerts) {
    const std::string line = absl::StrCat(
        "<b>", Escape(alert->rule_id()), "</b> (",
        SeverityName(alert->severity()), ", ", AlertStateName(alert->state()),
        "): ",
        Escape(alert->summary().empty() ? alert->message() : alert->summary()),
        " <small>[", Escape(alert->element()), "]</small>");
    (alert->severity() == v1::SEVERITY_INSUFFICIENT_DATA ? unsure : breaches)
        .push_back(line);
  }
  if (!breaches.empty()) {
    return absl::StrCat(
        "<div class=\"verdict attention\"><b>Needs attention.</b> ",
        absl::StrJoin(breaches, "<br>"),
        unsure.empty() ? ""
                       : absl::StrCat("<br>", absl::StrJoin(unsure, "<br>")),
        "</div>");
  }
  if (!unsure.empty()) {
    return absl::StrCat(
        "<div class=\"verdict unsure\"><b>Not enough data to judge.</b> ",
        absl::StrJoin(unsure, "<br>"), "</div>");
  }
  return "<div class=\"verdict fine\"><b>Fine.</b> No rule of the policy "
         "fires on these figures.</div>";
}

std::string PeriodName(absl::Duration length) {
  if (length >= absl::Hours(24) &&
      length % absl::Hours(24) == absl::ZeroDuration()) {
    const int64_t days = length / absl::Hours(24);
    return days == 1 ? "daily" : absl::StrCat(days, "-day");
  }
  const int64_t hours = length / absl::Hours(1);
  return hours == 1 ? "hourly" : absl::StrCat(hours, "-hour");
}

std::vector<ReferenceLine> AlertThresholds(
    const std::vector<const v1::Alert*>& alerts,
    const std::vector<absl::string_view>& metrics) {
  std::vector<ReferenceLine> lines;
  for (const v1::Alert* alert : alerts) {
    if (alert->severity() == v1::SEVERITY_INSUFFICIENT_DATA) continue;
    if (!metrics.empty() && std::find(metrics.begin(), metrics.end(),
                                      alert->metric()) == metrics.end()) {
      continue;
    }
    lines.push_back(
        {alert->threshold(),
         absl::StrCat(alert->rule_id(), " ", SeverityName(alert->severity()),
                      " ", Number(alert->threshold()))});
  }
  return lines;
}

std::string Figure(const std::string& svg, const std::string& caption) {
  return absl::StrCat("<figure>", svg, "<figcaption>", caption,
                      "</figcaption></figure>");
}

double Middle(const Period& period) {
  return absl::ToDoubleSeconds(period.start - absl::UnixEpoch() +
                               (period.end - period.start) / 2);
}

std::string OverviewSection(const ReportData& data) {
  const v1::ModelCounters& c = data.all.counters();
  int firing = 0, pending = 0, critical = 0;
  for (const v1::Alert& alert : data.alerts.alerts()) {
    if (alert.state() == v1::ALERT_STATE_FIRING) {
      ++firing;
      if (alert.severity() == v1::SEVERITY_CRITICAL) ++critical;
    }
    if (alert.state() == v1::ALERT_STATE_PENDING) ++pending;
  }
  std::string status;
  if (firing > 0) {
    status = absl::StrCat(
        "<div class=\"verdict attention\"><b>", firing,
        firing == 1 ? " alert is" : " alerts are", " firing</b>",
        critical > 0 ? absl::StrCat(", ", critical, " of them critical") : "",
        pending > 0 ? absl::StrCat("; ", pending, " pending") : "",
        ". They are listed below with the commitment each concerns.</div>");
  } else if (pending > 0) {
    status = absl::StrCat("<div class=\"verdict unsure\"><b>", pending,
                          pending == 1 ? " alert is" : " alerts are",
                          " pending</b>: a threshold is crossed, not yet "
                          "for long enough to fire.</div>");
  } else {
    status =
        "<div class=\"verdict fine\"><b>No alert is open.</b> Every rule of "
        "the policy that applies to this model holds.</div>";
  }
  std::string liveness = Verdict(OpenAlerts(data, Family::kOther));
  const bool has_data = data.all.panes() > 0;
  return absl::StrCat(
      "<section id=\"overview\"><h2>Overview</h2>", status,
      "<table><tr><th>predictions</th><th>outcomes</th><th>joined</th>"
      "<th>waiting for an outcome</th><th>rejected</th><th>late</th></tr><tr>"
      "<td>",
      Count(c.predictions()), "</td><td>", Count(c.outcomes()), "</td><td>",
      Count(c.joined()), "</td><td>", Count(c.pending_predictions()),
      "</td><td>", Count(c.rejected()), "</td><td>", Count(c.late()),
      "</td></tr></table><p>",
      has_data
          ? absl::StrCat(
                "Kept: ", Count(data.all.panes()), " panes from ",
                Escape(Time(FromTimestamp(data.all.covered().start()))), " to ",
                Escape(Time(FromTimestamp(data.all.covered().end()))),
                ". The current figures cover the last ",
                Escape(absl::FormatDuration(data.current_length)),
                " of event time (", Count(data.current.panes()),
                " panes); the charts over time show ",
                PeriodName(data.period_length), " periods.")
          : "No event has arrived for this model yet.",
      "</p><h3>Is the model receiving its events?</h3>", liveness,
      "</section>");
}

std::string AlertsSection(const ReportData& data) {
  std::string open, closed;
  for (const v1::Alert& alert : data.alerts.alerts()) {
    (IsOpen(alert) ? open : closed) += AlertRow(alert);
  }
  return absl::StrCat(
      "<section id=\"alerts\"><h2>Alerts</h2><p>Each alert names the "
      "commitment of the responsible-AI referential it concerns (element "
      "and answer item) and the articles of the EU AI Act behind it.</p>",
      open.empty() ? "<p>No open alert.</p>"
                   : absl::StrCat("<div class=\"scroll\"><table>", kAlertHead,
                                  open, "</table></div>"),
      closed.empty() ? ""
                     : absl::StrCat("<h3>Recently closed</h3><div "
                                    "class=\"scroll\"><table>",
                                    kAlertHead, closed, "</table></div>"),
      "</section>");
}

std::string RenderReportPage(const ReportData& data) {
  const std::string& version = data.all.counters().model_version();
  const std::string header = absl::StrCat(
      "<h1>Model ", Escape(data.model_id), "</h1><p>",
      version.empty() ? "" : absl::StrCat("version ", Escape(version), " · "),
      "report generated ", Escape(Time(data.generated_at)),
      "</p><nav><a href=\"#overview\">overview</a>"
      "<a href=\"#alerts\">alerts</a>"
      "<a href=\"#fairness\">fairness</a>"
      "<a href=\"#performance\">performance</a>"
      "<a href=\"#calibration\">calibration</a>"
      "<a href=\"#coverage\">coverage</a>"
      "<a href=\"#drift\">drift</a>"
      "<a href=\"#recommendation\">recommendations</a>",
      HasFootprint(data) ? "<a href=\"#footprint\">energy</a>" : "", "</nav>");
  return Page(absl::StrCat("Vigie: ", data.model_id), header,
              absl::StrCat(OverviewSection(data), AlertsSection(data),
                           FairnessSection(data), PerformanceSection(data),
                           CalibrationSection(data), CoverageSection(data),
                           DriftSection(data), RecommendationSection(data),
                           FootprintSection(data)));
}

std::string RenderIndexPage(const std::vector<std::string>& model_ids,
                            absl::Time now) {
  std::string list;
  for (const std::string& id : model_ids) {
    absl::StrAppend(&list, "<li><a href=\"", Escape(ModelReportPath(id)), "\">",
                    Escape(id), "</a></li>");
  }
  return Page("Vigie",
              absl::StrCat("<h1>Vigie</h1><p>", Escape(Time(now)), "</p>"),
              absl::StrCat("<section><h2>Models</h2>",
                           list.empty() ? "<p>No model has sent events yet.</p>"
                                        : absl::StrCat("<ul>", list, "</ul>"),
                           "<p>Prometheus metrics: <a href=\"/metrics\">"
                           "/metrics</a>.</p></section>"));
}

std::string RenderErrorPage(const std::string& title,
                            const std::string& message) {
  return Page(
      absl::StrCat("Vigie: ", title),
      absl::StrCat("<h1>", Escape(title), "</h1>"),
      absl::StrCat("<section><p>", Escape(message),
                   "</p><p><a href=\"/\">All models</a></p></section>"));
}

}  // namespace vigie::report
