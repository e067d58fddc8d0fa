#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "rules/policy.h"
#include "services/report/html.h"
#include "services/report/report_sections.h"

namespace vigie::report {
namespace {

std::optional<double> Rate(bool has, double value) {
  return has ? std::optional<double>(value) : std::nullopt;
}

const v1::AttributeFairness* FindAttribute(
    const google::protobuf::RepeatedPtrField<v1::AttributeFairness>& all,
    const std::string& attribute) {
  for (const v1::AttributeFairness& a : all) {
    if (a.attribute() == attribute) return &a;
  }
  return nullptr;
}

// A group's row; groups below the server's minimum reported size (`k`,
// GetMetricsReply.min_reported_group_size) say "fewer than k" where their
// figures are withheld.
std::string GroupTable(const v1::AttributeFairness& a, uint64_t k) {
  const std::string fewer = absl::StrCat("fewer than ", Count(k));
  std::string rows;
  auto row = [&](const v1::GroupMetrics& g, const std::string& name) {
    if (g.suppressed()) {
      absl::StrAppend(&rows, "<tr><td>", Escape(name), "</td><td>", fewer,
                      "</td><td>", fewer,
                      "</td><td colspan=\"5\">withheld: too few to show "
                      "on their own</td></tr>");
      return;
    }
    absl::StrAppend(
        &rows, "<tr><td>", Escape(name), "</td><td>",
        g.selection_suppressed() ? fewer : Count(g.predictions()), "</td><td>",
        g.outcomes_suppressed() ? fewer : Count(g.labeled()), "</td><td>",
        Number(Rate(g.has_selection_rate(), g.selection_rate())), "</td><td>",
        Number(Rate(g.has_true_positive_rate(), g.true_positive_rate())),
        "</td><td>",
        Number(Rate(g.has_false_positive_rate(), g.false_positive_rate())),
        "</td><td>", Number(Rate(g.has_precision(), g.precision())),
        "</td><td>", Number(Rate(g.has_accuracy(), g.accuracy())),
        "</td></tr>");
  };
  for (const v1::GroupMetrics& g : a.groups()) {
    row(g, g.included_in_gaps() || g.suppressed()
               ? g.group()
               : absl::StrCat(g.group(), " (too few to compare)"));
  }
  row(a.overall(), "all groups");
  return absl::StrCat(
      "<table><tr><th>group</th><th>predictions</th><th>with outcome</th>"
      "<th>selection rate</th><th>true positive rate</th>"
      "<th>false positive rate</th><th>precision</th><th>accuracy</th></tr>",
      rows, "</table>");
}

std::string GapSentence(const v1::AttributeFairness& a) {
  const v1::Gap& d = a.demographic_parity_difference();
  const v1::Gap& r = a.demographic_parity_ratio();
  const v1::Gap& eo = a.equalized_odds_difference();
  if (!d.has_value()) {
    return "Too few groups have enough predictions to compare them yet.";
  }
  std::string out = absl::StrCat(
      "Selection rates run from ", Escape(d.low_group()), " (lowest) to ",
      Escape(d.high_group()), " (highest): a gap of ", Number(d.value()));
  if (r.has_value()) {
    absl::StrAppend(&out, ", a ratio (disparate impact) of ",
                    Number(r.value()));
  }
  absl::StrAppend(&out, ".");
  if (eo.has_value()) {
    absl::StrAppend(&out, " Error rates differ by up to ", Number(eo.value()),
                    " (equalized odds difference, between ",
                    Escape(eo.high_group()), " and ", Escape(eo.low_group()),
                    ").");
  }
  return out;
}

std::string AttributeBlock(const ReportData& data,
                           const v1::AttributeFairness& a,
                           const std::string& prefix) {
  const std::string& name = a.attribute();
  // Selection rate per group over time, in the current window's group order.
  std::vector<Line> rates;
  for (const v1::GroupMetrics& g : a.groups()) {
    Line line{g.group(), {}};
    for (const Period& p : data.series) {
      const v1::AttributeFairness* at =
          FindAttribute(p.metrics.fairness(), name);
      if (at == nullptr) continue;
      for (const v1::GroupMetrics& pg : at->groups()) {
        if (pg.group() != g.group() || !pg.has_selection_rate()) continue;
        line.points.push_back(
            {Middle(p), pg.selection_rate(),
             absl::StrCat(g.group(), ": ", Number(pg.selection_rate()), " of ",
                          Count(pg.predictions()), " predictions, ",
                          Time(p.start))});
      }
    }
    rates.push_back(std::move(line));
  }
  Line parity{"selection-rate gap", {}}, odds{"equalized odds gap", {}};
  for (const Period& p : data.series) {
    const v1::AttributeFairness* at = FindAttribute(p.metrics.fairness(), name);
    if (at == nullptr) continue;
    if (at->demographic_parity_difference().has_value()) {
      parity.points.push_back(
          {Middle(p), at->demographic_parity_difference().value(), ""});
    }
    if (at->equalized_odds_difference().has_value()) {
      odds.points.push_back(
          {Middle(p), at->equalized_odds_difference().value(), ""});
    }
  }
  const auto alerts =
      OpenAlerts(data, Family::kFairness, {{"attribute", name}});
  const std::string period = PeriodName(data.period_length);
  LineChartSpec rate_chart{
      absl::StrCat(prefix, "selection rate per ", name, " group over time"),
      "selection rate",
      std::move(rates),
      {},
      0.0,
      1.0};
  LineChartSpec gap_chart{
      absl::StrCat(prefix, "fairness gaps between ", name, " groups over time"),
      "gap",
      {std::move(parity), std::move(odds)},
      AlertThresholds(alerts, {rules::kDemographicParityDifference,
                               rules::kEqualizedOddsDifference}),
      0.0,
      std::nullopt};
  return absl::StrCat(
      "<h3>", Escape(prefix), "By ", Escape(name), "</h3>", Verdict(alerts),
      "<p>", GapSentence(a), " Over the last ",
      Escape(absl::FormatDuration(data.current_length)), ", ",
      Count(a.overall().predictions()), " predictions (",
      Count(a.overall().labeled()), " with their outcome); ",
      Count(a.missing()), " had no ", Escape(name), ".</p>",
      GroupTable(a, data.current.min_reported_group_size()),
      Figure(LineChart(rate_chart),
             absl::StrCat("The share of positive decisions each ", Escape(name),
                          " group received, per ", period,
                          " period. Lines that stay close mean the groups are "
                          "treated alike.")),
      Figure(LineChart(gap_chart),
             absl::StrCat("The largest difference in selection rate between ",
                          Escape(name),
                          " groups, and in error rates (equalized odds), per ",
                          period,
                          " period. 0 is perfect parity; a dashed line marks "
                          "the threshold of an open alert.")));
}

}  // namespace

std::string FairnessSection(const ReportData& data) {
  std::string body;
  for (const v1::AttributeFairness& a : data.current.fairness()) {
    body += AttributeBlock(data, a, "");
  }
  for (const v1::ClassFairness& c : data.current.fairness_by_class()) {
    for (const v1::AttributeFairness& a : c.fairness()) {
      // The series of a class's fairness are not charted (series look up
      // the binary fairness); the current figures are.
      body += absl::StrCat(
          "<h3>Class ", Escape(c.class_label()), " by ", Escape(a.attribute()),
          "</h3><p>", GapSentence(a), "</p>",
          GroupTable(a, data.current.min_reported_group_size()));
    }
  }
  if (body.empty()) {
    body = "<p>No group attribute has been monitored in this window.</p>";
  }
  return absl::StrCat(
      "<section id=\"fairness\"><h2>Fairness between groups</h2><p>Whether "
      "groups of people (by each monitored attribute) receive positive "
      "decisions, and errors, at similar rates.</p>",
      body, "</section>");
}

}  // namespace vigie::report
