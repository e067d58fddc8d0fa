#include <optional>

#include "absl/strings/str_cat.h"
#include "rules/policy.h"
#include "services/report/html.h"
#include "services/report/report_sections.h"

namespace vigie::report {
namespace {

template <typename T>
std::optional<double> Opt(bool has, T value) {
  return has ? std::optional<double>(value) : std::nullopt;
}

std::vector<ReliabilityBin> Bins(const v1::Calibration& c) {
  std::vector<ReliabilityBin> bins;
  for (const v1::CalibrationBin& b : c.bins()) {
    if (b.count() == 0 || !b.has_mean_predicted() ||
        !b.has_observed_frequency()) {
      continue;
    }
    bins.push_back(
        {b.mean_predicted(), b.observed_frequency(),
         b.has_observed_lower() ? b.observed_lower() : b.observed_frequency(),
         b.has_observed_upper() ? b.observed_upper() : b.observed_frequency(),
         b.count()});
  }
  return bins;
}

std::string CoverageRow(const v1::ConformalCoverage& c,
                        const std::string& name) {
  const std::optional<double> target =
      c.has_gate() ? std::optional<double>(1 - c.gate().alpha()) : std::nullopt;
  return absl::StrCat(
      "<tr><td>", Escape(name), "</td><td>", Count(c.count()), "</td><td>",
      Percent(Opt(c.has_coverage(), c.coverage())), "</td><td>",
      Percent(Opt(c.has_coverage_lower(), c.coverage_lower())), " – ",
      Percent(Opt(c.has_coverage_upper(), c.coverage_upper())), "</td><td>",
      Percent(target), "</td><td>",
      Number(Opt(c.has_mean_size(), c.mean_size())), "</td></tr>");
}

}  // namespace

std::string CalibrationSection(const ReportData& data) {
  const auto alerts = OpenAlerts(data, Family::kCalibration);
  std::string body;
  if (!data.current.has_calibration() ||
      data.current.calibration().count() == 0) {
    body =
        "<p>No prediction with a probability has been joined with its "
        "outcome in this window yet.</p>";
  } else {
    const v1::Calibration& c = data.current.calibration();
    Line ece{"ECE", {}};
    for (const Period& p : data.series) {
      if (p.metrics.has_calibration() && p.metrics.calibration().has_ece()) {
        ece.points.push_back(
            {Middle(p), p.metrics.calibration().ece(),
             absl::StrCat("ECE ", Number(p.metrics.calibration().ece()),
                          " over ", Count(p.metrics.calibration().count()),
                          " outcomes, ", Time(p.start))});
      }
    }
    std::string groups;
    for (const v1::GroupCalibration& g : data.current.calibration_by_group()) {
      const v1::Calibration& gc = g.calibration();
      absl::StrAppend(&groups, "<tr><td>", Escape(g.attribute()), " = ",
                      Escape(g.group()), "</td><td>", Count(gc.count()),
                      "</td><td>", Number(Opt(gc.has_ece(), gc.ece())),
                      "</td><td>", Number(Opt(gc.has_brier(), gc.brier())),
                      "</td></tr>");
    }
    body = absl::StrCat(
        Verdict(alerts), "<p>Over the last ",
        Escape(absl::FormatDuration(data.current_length)), ", ",
        Count(c.count()),
        " predictions were joined with their outcome. Expected calibration "
        "error (ECE): ",
        Number(Opt(c.has_ece(), c.ece())),
        c.has_null_ece_p95()
            ? absl::StrCat("; perfectly calibrated predictions would show up "
                           "to ",
                           Number(c.null_ece_p95()),
                           " by chance alone (95%), with as many outcomes")
            : "",
        ". Brier score: ", Number(Opt(c.has_brier(), c.brier())), ".</p>",
        Figure(ReliabilityDiagram("reliability diagram", Bins(c)),
               "Each dot is a band of predicted probabilities: how often the "
               "event really happened (up) against how likely the model said "
               "it was (across), with its 95% interval; a dot's size grows "
               "with its predictions. On the dashed diagonal, the "
               "probabilities can be taken at their word."),
        Figure(LineChart(
                   {"expected calibration error over time",
                    "ECE",
                    {std::move(ece)},
                    AlertThresholds(alerts, {rules::kExpectedCalibrationError}),
                    0.0,
                    std::nullopt}),
               absl::StrCat("The expected calibration error per ",
                            PeriodName(data.period_length),
                            " period: the average distance between predicted "
                            "probabilities and what happened. Lower is "
                            "better.")),
        groups.empty()
            ? ""
            : absl::StrCat("<table><tr><th>group</th><th>outcomes</th>"
                           "<th>ECE</th><th>Brier</th></tr>",
                           groups, "</table>"));
  }
  return absl::StrCat(
      "<section id=\"calibration\"><h2>Calibration</h2><p>Whether the "
      "model's probabilities mean what they say: of the cases given 70%, "
      "about 70% should turn out positive.</p>",
      body, "</section>");
}

std::string CoverageSection(const ReportData& data) {
  const auto alerts = OpenAlerts(data, Family::kCoverage);
  std::string body;
  if (!data.current.has_conformal() ||
      data.current.conformal().overall().count() == 0) {
    body =
        "<p>No conformal prediction (interval or set) has been joined with "
        "its outcome in this window.</p>";
  } else {
    const v1::Conformal& k = data.current.conformal();
    const v1::ConformalCoverage& overall = k.overall();
    std::vector<Line> lines{{"all", {}}};
    for (const Period& p : data.series) {
      const v1::ConformalCoverage& o = p.metrics.conformal().overall();
      if (o.has_coverage()) {
        lines[0].points.push_back(
            {Middle(p), o.coverage(),
             absl::StrCat("coverage ", Percent(o.coverage()), " of ",
                          Count(o.count()), ", ", Time(p.start))});
      }
    }
    std::string rows = CoverageRow(overall, "all");
    for (const v1::AttributeConformal& a : k.by_attribute()) {
      for (const v1::ConformalCoverage& g : a.groups()) {
        rows += CoverageRow(g, absl::StrCat(a.attribute(), " = ", g.group()));
        Line line{absl::StrCat(a.attribute(), " = ", g.group()), {}};
        for (const Period& p : data.series) {
          for (const v1::AttributeConformal& pa :
               p.metrics.conformal().by_attribute()) {
            if (pa.attribute() != a.attribute()) continue;
            for (const v1::ConformalCoverage& pg : pa.groups()) {
              if (pg.group() == g.group() && pg.has_coverage()) {
                line.points.push_back({Middle(p), pg.coverage(), ""});
              }
            }
          }
        }
        lines.push_back(std::move(line));
      }
    }
    std::vector<ReferenceLine> references;
    if (overall.has_gate()) {
      references.push_back(
          {1 - overall.gate().alpha(),
           absl::StrCat("promised ", Percent(1 - overall.gate().alpha()))});
    }
    body = absl::StrCat(
        Verdict(alerts), "<p>Over the last ",
        Escape(absl::FormatDuration(data.current_length)), ", ",
        Percent(Opt(overall.has_coverage(), overall.coverage())), " of ",
        Count(overall.count()),
        " prediction intervals or sets held the true outcome",
        overall.has_gate()
            ? absl::StrCat(", against the ",
                           Percent(1 - overall.gate().alpha()), " promised")
            : "",
        ".</p><table><tr><th>scope</th><th>outcomes</th><th>coverage</th>"
        "<th>95% interval</th><th>promised</th><th>mean size</th></tr>",
        rows, "</table>",
        Figure(LineChart({"conformal coverage over time", "coverage",
                          std::move(lines), std::move(references), std::nullopt,
                          1.0}),
               absl::StrCat("The share of intervals or sets that held the "
                            "outcome, overall and per group, per ",
                            PeriodName(data.period_length),
                            " period, against the promised coverage (dashed). "
                            "Falling below it means the uncertainty the model "
                            "states is too narrow.")));
  }
  return absl::StrCat(
      "<section id=\"coverage\"><h2>Coverage of prediction intervals</h2>"
      "<p>Whether the model's prediction intervals or sets hold the true "
      "outcome as often as promised, for everyone and for each group.</p>",
      body, "</section>");
}

}  // namespace vigie::report
