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

std::string FeatureName(const std::string& feature) {
  if (feature == "@prediction") return "the prediction";
  if (feature == "@label") return "the outcome (label)";
  return feature;
}

std::string ConceptDriftText(const v1::ConceptDrift& c) {
  if (c.errors_observed() == 0) return "";
  return absl::StrCat(
      "<h3>Errors over time (concept drift)</h3><p>",
      Count(c.errors_observed()),
      " outcomes scored so far. The error rate changed ", c.adwin_changes(),
      c.adwin_changes() == 1 ? " time" : " times",
      " by ADWIN's test; ADWIN's current window holds ", Count(c.adwin_width()),
      " outcomes with a mean error of ", Number(c.adwin_mean()), ".",
      c.ddm_state().empty()
          ? ""
          : absl::StrCat(" The drift detection method (DDM) says: ",
                         Escape(c.ddm_state()), "."),
      "</p>");
}

}  // namespace

std::string DriftSection(const ReportData& data) {
  const auto alerts = OpenAlerts(data, Family::kDrift);
  std::string body;
  if (data.current.drift().empty()) {
    body = data.current.has_reference()
               ? "<p>No event in this window to compare with the reference.</p>"
               : "<p>The model has no reference yet (upload one, or set a "
                 "reference window), so drift is not measured.</p>";
  } else {
    std::vector<Bar> bars;
    std::string rows;
    int drifted = 0;
    for (const v1::FeatureDrift& f : data.current.drift()) {
      drifted += f.drifted() ? 1 : 0;
      bars.push_back(
          {FeatureName(f.feature()), f.jensen_shannon(), f.drifted(),
           absl::StrCat(FeatureName(f.feature()), ": Jensen-Shannon ",
                        Number(f.jensen_shannon()), ", PSI ", Number(f.psi()),
                        ", ", Count(f.current_count()), " values against ",
                        Count(f.reference_count()))});
      absl::StrAppend(
          &rows, "<tr><td>", Escape(FeatureName(f.feature())), "</td><td>",
          Count(f.current_count()), "</td><td>", Count(f.reference_count()),
          "</td><td>", Number(f.psi()), "</td><td>", Number(f.jensen_shannon()),
          "</td><td class=\"text\">", Escape(f.method()), " ",
          Number(f.statistic()),
          f.has_p_value() ? absl::StrCat(" (p = ", Number(f.p_value()), ")")
                          : "",
          "</td><td>", f.drifted() ? "<b>drifted</b>" : "no", "</td><td>",
          Percent(f.missing_rate()), " (", Percent(f.reference_missing_rate()),
          ")</td><td>", Percent(f.out_of_range_rate()), "</td></tr>");
    }
    Line share{"drifted share", {}};
    for (const Period& p : data.series) {
      if (p.metrics.drift().empty()) continue;
      int n = 0;
      for (const v1::FeatureDrift& f : p.metrics.drift()) n += f.drifted();
      share.points.push_back({Middle(p),
                              static_cast<double>(n) / p.metrics.drift_size(),
                              absl::StrCat(n, " of ", p.metrics.drift_size(),
                                           " drifted, ", Time(p.start))});
    }
    const v1::ReferenceInfo& ref = data.current.reference();
    body = absl::StrCat(
        Verdict(alerts), "<p>", drifted, " of ", data.current.drift_size(),
        " monitored signals drifted over the last ",
        Escape(absl::FormatDuration(data.current_length)),
        " by Evidently's default rule (a test below 1,000 reference values, a "
        "distance above). Reference: version ",
        ref.version(), ", ", Escape(ref.source()), ", ",
        Count(ref.predictions()), " predictions.</p>",
        Figure(BarChart({"drift per feature",
                         "Jensen-Shannon distance to the "
                         "reference (0: same distribution, 1: disjoint)",
                         std::move(bars),
                         {{0.1, "0.1"}},
                         std::nullopt,
                         "drifted"}),
               "How far each feature's distribution in the window is from the "
               "reference; red bars are the features the per-feature test "
               "says drifted. Distances below 0.1 are usually noise."),
        Figure(
            LineChart({"share of drifted features over time",
                       "drifted share",
                       {std::move(share)},
                       AlertThresholds(alerts, {rules::kDriftedFeatureShare}),
                       0.0,
                       1.0}),
            absl::StrCat("The share of monitored signals that drifted, per ",
                         PeriodName(data.period_length),
                         " period. A sudden rise means the inputs no "
                         "longer look like the data the model was "
                         "validated on.")),
        "<table><tr><th>signal</th><th>values</th><th>reference</th>"
        "<th>PSI</th><th>Jensen-Shannon</th><th>test</th><th>verdict</th>"
        "<th>missing (ref.)</th><th>out of range</th></tr>",
        rows, "</table>");
  }
  return absl::StrCat(
      "<section id=\"drift\"><h2>Drift</h2><p>Whether the inputs, the "
      "predictions and the outcomes still look like the reference the model "
      "was validated on.</p>",
      body, ConceptDriftText(data.current.concept_drift()), "</section>");
}

std::string RecommendationSection(const ReportData& data) {
  if (!data.current.has_recommendation() ||
      data.current.recommendation().lists() == 0) {
    return "";
  }
  const v1::Recommendation& r = data.current.recommendation();
  const auto alerts = OpenAlerts(data, Family::kRecommendation);
  Line diversity{"diversity", {}}, coverage{"catalogue coverage", {}},
      hits{"hit rate", {}};
  for (const Period& p : data.series) {
    const v1::Recommendation& pr = p.metrics.recommendation();
    const double x = Middle(p);
    if (pr.has_diversity()) diversity.points.push_back({x, pr.diversity(), ""});
    if (pr.has_coverage()) coverage.points.push_back({x, pr.coverage(), ""});
    if (pr.has_hit_rate()) hits.points.push_back({x, pr.hit_rate(), ""});
  }
  return absl::StrCat(
      "<section id=\"recommendation\"><h2>Recommendations</h2><p>Whether "
      "the lists stay varied, reach beyond the most popular items and cover "
      "the catalogue.</p>",
      Verdict(alerts),
      "<table><tr><th>lists</th><th>diversity</th>"
      "<th>novelty (bits)</th><th>catalogue coverage</th>"
      "<th>exposure Gini</th><th>hit rate</th><th>lists with feedback</th>"
      "</tr><tr><td>",
      Count(r.lists()), "</td><td>",
      Number(Opt(r.has_diversity(), r.diversity())), "</td><td>",
      Number(Opt(r.has_novelty(), r.novelty())), "</td><td>",
      Percent(Opt(r.has_coverage(), r.coverage())), "</td><td>",
      Number(Opt(r.has_exposure_gini(), r.exposure_gini())), "</td><td>",
      Percent(Opt(r.has_hit_rate(), r.hit_rate())), "</td><td>",
      Count(r.feedback_lists()), "</td></tr></table>",
      Figure(LineChart(
                 {"recommendation quality over time",
                  "share",
                  {std::move(diversity), std::move(coverage), std::move(hits)},
                  {},
                  0.0,
                  1.0}),
             absl::StrCat("Intra-list diversity, the share of the catalogue "
                          "recommended and the hit rate, per ",
                          PeriodName(data.period_length),
                          " period. A falling diversity or coverage means "
                          "the lists narrow onto fewer items.")),
      "</section>");
}

}  // namespace vigie::report
