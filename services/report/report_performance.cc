// The report page's performance section: a binary classifier's accuracy,
// precision, recall and F1, estimated from its scores (CBPE) beside their
// values realised by the outcomes joined so far.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rules/policy.h"
#include "services/report/html.h"
#include "services/report/report_sections.h"

namespace vigie::report {
namespace {

// "81.2% (79.0% – 83.4%)", or "—".
std::string WithInterval(bool has, const v1::PerformanceValue& v) {
  if (!has) return "—";
  return absl::StrCat(Percent(v.value()), " <small>(", Percent(v.lower_95()),
                      " – ", Percent(v.upper_95()), ")</small>");
}

struct Metric {
  const char* name;
  bool (v1::PerformanceValues::*has)() const;
  const v1::PerformanceValue& (v1::PerformanceValues::*get)() const;
};

constexpr Metric kMetrics[] = {
    {"accuracy", &v1::PerformanceValues::has_accuracy,
     &v1::PerformanceValues::accuracy},
    {"precision", &v1::PerformanceValues::has_precision,
     &v1::PerformanceValues::precision},
    {"recall", &v1::PerformanceValues::has_recall,
     &v1::PerformanceValues::recall},
    {"F1", &v1::PerformanceValues::has_f1, &v1::PerformanceValues::f1},
};

std::string Cell(const v1::PerformanceValues& values, const Metric& m) {
  return WithInterval((values.*m.has)(), (values.*m.get)());
}

}  // namespace

std::string PerformanceSection(const ReportData& data) {
  if (!data.current.has_performance_estimate()) {
    return "<section id=\"performance\"><h2>Performance</h2><p>No scored "
           "binary prediction in this window: nothing to estimate.</p>"
           "</section>";
  }
  const v1::PerformanceEstimate& pe = data.current.performance_estimate();
  const v1::PerformanceScope& model = pe.model();
  std::vector<const v1::Alert*> alerts;
  for (const v1::Alert* alert : OpenAlerts(data, Family::kOther)) {
    if (alert->metric() == rules::kDeclaredPerformance) alerts.push_back(alert);
  }
  std::string rows;
  for (const Metric& m : kMetrics) {
    absl::StrAppend(&rows, "<tr><td>", m.name, "</td><td>",
                    Cell(model.estimated(), m), "</td><td>",
                    Cell(model.realised(), m), "</td></tr>");
  }
  std::string groups;
  // Groups below the minimum reported size say so (services/small_groups.h).
  const std::string fewer = absl::StrCat(
      "fewer than ", Count(data.current.min_reported_group_size()));
  for (const v1::PerformanceScope& g : pe.groups()) {
    const bool all = g.suppressed();
    absl::StrAppend(
        &groups, "<tr><td>", Escape(g.attribute()), " = ", Escape(g.group()),
        g.own_calibration() || all ? "" : "*", "</td><td>",
        all || g.estimate_suppressed() ? fewer : Count(g.predictions()),
        "</td><td>",
        all || g.outcomes_suppressed() ? fewer : Count(g.labelled()),
        "</td><td>", Cell(g.estimated(), kMetrics[0]), "</td><td>",
        Cell(g.realised(), kMetrics[0]), "</td><td>",
        Cell(g.estimated(), kMetrics[3]), "</td><td>",
        Cell(g.realised(), kMetrics[3]), "</td></tr>");
  }
  Line estimated{"accuracy, estimated", {}};
  Line realised{"accuracy, realised", {}};
  for (const Period& p : data.series) {
    const v1::PerformanceScope& s = p.metrics.performance_estimate().model();
    if (s.estimated().has_accuracy()) {
      estimated.points.push_back(
          {Middle(p), s.estimated().accuracy().value(),
           absl::StrCat("estimated ", Percent(s.estimated().accuracy().value()),
                        " from ", Count(s.predictions()), " predictions, ",
                        Time(p.start))});
    }
    if (s.realised().has_accuracy()) {
      realised.points.push_back(
          {Middle(p), s.realised().accuracy().value(),
           absl::StrCat("realised ", Percent(s.realised().accuracy().value()),
                        " over ", Count(s.labelled()), " outcomes, ",
                        Time(p.start))});
    }
  }
  const std::string body =
      pe.reference_labelled() == 0
          ? "<p>Nothing is estimated yet: the model's reference has no "
            "outcome to learn how its scores translate into probabilities. "
            "The realised values below come from the outcomes joined so "
            "far.</p>"
          : absl::StrCat(
                "<p>Over the last ",
                Escape(absl::FormatDuration(data.current_length)), ", ",
                Count(model.predictions()), " scored predictions, ",
                Count(model.labelled()),
                " of them with their outcome so far. The estimate reads the "
                "scores through a calibration map (",
                Escape(pe.calibration()), ", ", Count(pe.bins()),
                " score bins) learned on ", Count(pe.reference_labelled()),
                " labelled predictions of the reference; it assumes that the "
                "scores mean what they meant then, however their "
                "distribution moved",
                model.extrapolated() > 0
                    ? absl::StrCat(" (", Count(model.extrapolated()),
                                   " predictions fell in score bins the "
                                   "reference never saw)")
                    : "",
                ".</p>");
  return absl::StrCat(
      "<section id=\"performance\"><h2>Performance</h2><p>How often the "
      "model is right, estimated from its scores before the outcomes are "
      "known (confidence-based performance estimation), beside what the "
      "outcomes joined so far show. Values with their 95% interval.</p>",
      Verdict(alerts), body,
      "<table><tr><th>metric</th><th>estimated</th><th>realised</th></tr>",
      rows, "</table>",
      Figure(LineChart({"accuracy over time, estimated and realised",
                        "accuracy",
                        {std::move(estimated), std::move(realised)},
                        AlertThresholds(alerts),
                        std::nullopt,
                        1.0}),
             absl::StrCat("Accuracy per ", PeriodName(data.period_length),
                          " period: estimated from the scores as soon as "
                          "the predictions are made, realised once their "
                          "outcomes arrive. A gap between the two lines "
                          "where both exist means the scores no longer mean "
                          "what they did in the reference.")),
      groups.empty()
          ? ""
          : absl::StrCat(
                "<table><tr><th>group</th><th>predictions</th><th>outcomes"
                "</th><th>accuracy, estimated</th><th>accuracy, realised"
                "</th><th>F1, estimated</th><th>F1, realised</th></tr>",
                groups,
                "</table><p><small>* calibrated on the whole model's "
                "reference: the group had too few labelled reference "
                "predictions of its own.</small></p>"),
      "</section>");
}

}  // namespace vigie::report
