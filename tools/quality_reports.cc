#include "tools/quality_reports.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/printing.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

std::string Fixed(double value, int digits) {
  return absl::StrFormat("%.*f", digits, value);
}

// A proto3 optional double, or "—".
template <typename Message, typename Has, typename Get>
std::string Optional(const Message& m, Has has, Get get, int digits) {
  return (m.*has)() ? Fixed((m.*get)(), digits) : std::string(kAbsent);
}

std::string Coverage(const v1::ConformalCoverage& c) {
  if (!c.has_coverage()) return std::string(kAbsent);
  std::string out = Fixed(c.coverage(), 4);
  if (c.has_coverage_lower()) {
    absl::StrAppend(&out, " [", Fixed(c.coverage_lower(), 4), ", ",
                    Fixed(c.coverage_upper(), 4), "]");
  }
  return out;
}

std::string Gate(const v1::ConformalCoverage& c) {
  if (!c.has_gate()) return std::string(kAbsent);
  const v1::ConformalGate& g = c.gate();
  return absl::StrFormat("p = %.2g (5%% quantile %.4f)", g.p_value(),
                         g.quantile_05());
}

}  // namespace

void PrintConformalText(const v1::GetMetricsReply& reply, std::ostream& out) {
  if (!reply.has_conformal()) return;
  const v1::Conformal& c = reply.conformal();
  const v1::ConformalCoverage& all = c.overall();
  out << "\nconformal coverage: " << Coverage(all) << " over "
      << FormatCount(all.count()) << " labelled predictions";
  if (all.has_gate()) {
    const v1::ConformalGate& g = all.gate();
    out << absl::StrFormat("\n  nominal %.4f (alpha %g", 1 - g.alpha(),
                           g.alpha());
    if (g.calibration_size() > 0) out << ", n_cal " << g.calibration_size();
    out << absl::StrFormat(
        "); %s law: expected %.4f, 5%% quantile %.4f, 0.1%% quantile %.4f, "
        "p = %.2g",
        g.law(), g.expected_coverage(), g.quantile_05(), g.quantile_001(),
        g.p_value());
  }
  out << "\n  mean size "
      << Optional(all, &v1::ConformalCoverage::has_mean_size,
                  &v1::ConformalCoverage::mean_size, 4)
      << ", empty " << FormatCount(all.empty()) << ", full "
      << FormatCount(all.full());
  if (c.has_score_quantile()) {
    out << "; half-width for the nominal coverage in this window "
        << Fixed(c.score_quantile(), 4);
  }
  if (c.adaptive().steps() > 0) {
    out << absl::StrFormat(
        "\n  adaptive conformal inference: next alpha %.4f (target %g, %s "
        "misses in %s steps)",
        c.adaptive().next_alpha(), c.adaptive().target_alpha(),
        FormatCount(c.adaptive().misses()), FormatCount(c.adaptive().steps()));
  }
  out << "\n";
  for (const v1::AttributeConformal& a : c.by_attribute()) {
    out << "  " << a.attribute() << ":";
    if (a.has_coverage_gap()) {
      out << " coverage gap " << Fixed(a.coverage_gap(), 4) << " ("
          << a.max_coverage_group() << " - " << a.min_coverage_group() << ")";
    }
    out << "\n";
    std::vector<std::vector<std::string>> rows = {
        {"group", "count", "coverage [95% CI]", "mean size", "gate"}};
    for (const v1::ConformalCoverage& g : a.groups()) {
      rows.push_back({g.group(), FormatCount(g.count()), Coverage(g),
                      Optional(g, &v1::ConformalCoverage::has_mean_size,
                               &v1::ConformalCoverage::mean_size, 4),
                      Gate(g)});
    }
    PrintTable(rows, "    ", out, "lrrrl");
  }
}

void PrintRecommendationText(const v1::GetMetricsReply& reply,
                             std::ostream& out) {
  if (!reply.has_recommendation()) return;
  const v1::Recommendation& r = reply.recommendation();
  using R = v1::Recommendation;
  out << "\nrecommendations: " << FormatCount(r.lists()) << " lists, "
      << FormatCount(r.items()) << " items (" << FormatCount(r.unknown_items())
      << " outside the catalogue of " << FormatCount(r.catalogue_size())
      << ")\n";
  const std::vector<std::vector<std::string>> rows = {
      {"diversity", Optional(r, &R::has_diversity, &R::diversity, 4)},
      {"novelty (bits)", Optional(r, &R::has_novelty, &R::novelty, 4)},
      {"average popularity",
       Optional(r, &R::has_average_popularity, &R::average_popularity, 4)},
      {"catalogue coverage", Optional(r, &R::has_coverage, &R::coverage, 4)},
      {"exposure Gini",
       Optional(r, &R::has_exposure_gini, &R::exposure_gini, 4)},
      {"personalisation",
       Optional(r, &R::has_personalization, &R::personalization, 4)},
      {"hit rate", Optional(r, &R::has_hit_rate, &R::hit_rate, 4)},
      {"MRR", Optional(r, &R::has_mrr, &R::mrr, 4)},
      {"serendipity", Optional(r, &R::has_serendipity, &R::serendipity, 4)}};
  PrintTable(rows, "  ", out, "lr");
}

}  // namespace vigie::tools
