#include "monitors/fairness_gaps.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

// ---- Per-group rates ----

void SetRate(uint64_t successes, uint64_t n, double z,
             std::optional<double>& rate, std::optional<Interval>& interval) {
  if (n == 0) return;  // Undefined: left empty.
  rate = static_cast<double>(successes) / static_cast<double>(n);
  interval = WilsonIntervalAtZ(successes, n, z);
}

// ---- Gaps ----

// The rate a criterion compares: where to read it, and its numerator and
// denominator (for the tests).
struct Proportion {
  uint64_t x = 0;
  uint64_t n = 0;
};
struct RateSpec {
  std::optional<double> GroupRates::*rate;
  Proportion (*counts)(const GroupRates&);
};

Proportion SelectionCounts(const GroupRates& g) {
  return {g.selected, g.predictions};
}
Proportion TruePositiveCounts(const GroupRates& g) {
  return {g.true_positives, SaturatingAdd(g.true_positives, g.false_negatives)};
}
Proportion FalsePositiveCounts(const GroupRates& g) {
  return {g.false_positives,
          SaturatingAdd(g.false_positives, g.true_negatives)};
}
Proportion PrecisionCounts(const GroupRates& g) {
  return {g.true_positives, SaturatingAdd(g.true_positives, g.false_positives)};
}

constexpr RateSpec kSelection{&GroupRates::selection_rate, &SelectionCounts};
constexpr RateSpec kTruePositive{&GroupRates::true_positive_rate,
                                 &TruePositiveCounts};
constexpr RateSpec kFalsePositive{&GroupRates::false_positive_rate,
                                  &FalsePositiveCounts};
constexpr RateSpec kPrecision{&GroupRates::precision, &PrecisionCounts};

// Highest and lowest value of one rate over the groups that define it.
struct Extremes {
  int defined = 0;  // Groups with the rate defined.
  double high = 0;
  double low = 0;
  size_t high_index = 0;
  size_t low_index = 0;
};

// Strict comparisons keep the first group on a tie.
Extremes FindExtremes(absl::Span<const GroupRates> groups,
                      const RateSpec& spec) {
  Extremes e;
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::optional<double>& value = groups[i].*spec.rate;
    if (!value.has_value()) continue;
    if (e.defined == 0 || *value > e.high) {
      e.high = *value;
      e.high_index = i;
    }
    if (e.defined == 0 || *value < e.low) {
      e.low = *value;
      e.low_index = i;
    }
    ++e.defined;
  }
  return e;
}

// The test of the pair behind `e`. When every rate is equal the pair is one
// group twice, which says nothing: it is then compared with the next group
// that has the rate. Empty when a denominator is 0 (rates given without
// their counts).
std::optional<ProportionComparison> TestPair(
    absl::Span<const GroupRates> groups, const RateSpec& spec,
    const Extremes& e) {
  size_t low = e.low_index;
  if (low == e.high_index) {
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i != e.high_index && (groups[i].*spec.rate).has_value()) {
        low = i;
        break;
      }
    }
  }
  const Proportion h = spec.counts(groups[e.high_index]);
  const Proportion l = spec.counts(groups[low]);
  if (h.n == 0 || l.n == 0 || low == e.high_index) return std::nullopt;
  return TestProportions(h.x, h.n, l.x, l.n, kRateConfidence);
}

CriterionGaps Criterion(absl::Span<const GroupRates> groups,
                        const RateSpec& spec, const GroupRates& overall,
                        const GroupRates* reference) {
  CriterionGaps out;
  if (const Extremes e = FindExtremes(groups, spec); e.defined >= 2) {
    GapValue gap;
    gap.high_group = groups[e.high_index].group;
    gap.low_group = groups[e.low_index].group;
    gap.test = TestPair(groups, spec, e);
    // A ratio with a zero denominator (the highest rate is 0) is undefined.
    if (e.high > 0) {
      out.ratio = gap;
      out.ratio.value = e.low / e.high;
    }
    out.difference = std::move(gap);
    out.difference.value = e.high - e.low;
  }
  const std::optional<double>& overall_rate = overall.*spec.rate;
  std::optional<double> reference_rate;
  if (reference != nullptr) reference_rate = reference->*spec.rate;
  out.by_group.reserve(groups.size());
  for (const GroupRates& g : groups) {
    GroupGap& gap = out.by_group.emplace_back();
    gap.group = g.group;
    const std::optional<double>& rate = g.*spec.rate;
    if (!rate.has_value()) continue;
    if (overall_rate.has_value())
      gap.difference_to_overall = *rate - *overall_rate;
    if (reference_rate.has_value() && *reference_rate > 0) {
      gap.ratio_to_reference = *rate / *reference_rate;
    }
  }
  return out;
}

// How close a ratio is to parity: min(r, 1/r), in [0, 1].
double Closeness(double ratio) {
  return ratio <= 0 ? 0 : std::min(ratio, 1 / ratio);
}

// Equalized odds: for each measure, the worse of TPR and FPR, the TPR one
// on a tie; defined only where both are (reporting the one available would
// understate a gap nobody could measure).
CriterionGaps EqualizedOdds(const CriterionGaps& tpr,
                            const CriterionGaps& fpr) {
  CriterionGaps out;
  if (tpr.difference.value.has_value() && fpr.difference.value.has_value()) {
    out.difference = *fpr.difference.value > *tpr.difference.value
                         ? fpr.difference
                         : tpr.difference;
  }
  if (tpr.ratio.value.has_value() && fpr.ratio.value.has_value()) {
    out.ratio = *fpr.ratio.value < *tpr.ratio.value ? fpr.ratio : tpr.ratio;
  }
  out.by_group.reserve(tpr.by_group.size());
  for (size_t i = 0; i < tpr.by_group.size(); ++i) {
    const GroupGap& t = tpr.by_group[i];
    const GroupGap& f = fpr.by_group[i];
    GroupGap& gap = out.by_group.emplace_back();
    gap.group = t.group;
    if (t.difference_to_overall.has_value() &&
        f.difference_to_overall.has_value()) {
      gap.difference_to_overall = std::abs(*f.difference_to_overall) >
                                          std::abs(*t.difference_to_overall)
                                      ? f.difference_to_overall
                                      : t.difference_to_overall;
    }
    if (t.ratio_to_reference.has_value() && f.ratio_to_reference.has_value()) {
      gap.ratio_to_reference =
          Closeness(*f.ratio_to_reference) < Closeness(*t.ratio_to_reference)
              ? f.ratio_to_reference
              : t.ratio_to_reference;
    }
  }
  return out;
}

// The configured reference group, or by default the group with the most
// predictions (ties: the label first in byte order). Null when it is not
// among `groups`.
const GroupRates* FindReference(absl::Span<const GroupRates> groups,
                                absl::string_view configured) {
  const GroupRates* best = nullptr;
  for (const GroupRates& g : groups) {
    if (!configured.empty()) {
      if (g.group == configured) return &g;
      continue;
    }
    if (best == nullptr || g.predictions > best->predictions ||
        (g.predictions == best->predictions && g.group < best->group)) {
      best = &g;
    }
  }
  return best;
}

}  // namespace

void FillRates(GroupRates& g, double z) {
  const uint64_t tp = g.true_positives;
  const uint64_t fp = g.false_positives;
  const uint64_t tn = g.true_negatives;
  const uint64_t fn = g.false_negatives;
  const uint64_t positives = SaturatingAdd(tp, fn);
  const uint64_t negatives = SaturatingAdd(fp, tn);
  const uint64_t labeled = SaturatingAdd(positives, negatives);
  const uint64_t decided_positive = SaturatingAdd(tp, fp);
  const uint64_t decided_negative = SaturatingAdd(tn, fn);
  RateIntervals& i = g.intervals;
  SetRate(g.selected, g.predictions, z, g.selection_rate, i.selection_rate);
  SetRate(positives, labeled, z, g.base_rate, i.base_rate);
  SetRate(tp, positives, z, g.true_positive_rate, i.true_positive_rate);
  SetRate(fp, negatives, z, g.false_positive_rate, i.false_positive_rate);
  SetRate(tn, negatives, z, g.true_negative_rate, i.true_negative_rate);
  SetRate(fn, positives, z, g.false_negative_rate, i.false_negative_rate);
  SetRate(tp, decided_positive, z, g.precision, i.precision);
  SetRate(tn, decided_negative, z, g.negative_predictive_value,
          i.negative_predictive_value);
  SetRate(fp, decided_positive, z, g.false_discovery_rate,
          i.false_discovery_rate);
  SetRate(fn, decided_negative, z, g.false_omission_rate,
          i.false_omission_rate);
  SetRate(SaturatingAdd(tp, tn), labeled, z, g.accuracy, i.accuracy);
}

void AddCounts(GroupRates& to, const GroupRates& from) {
  to.predictions = SaturatingAdd(to.predictions, from.predictions);
  to.selected = SaturatingAdd(to.selected, from.selected);
  to.true_positives = SaturatingAdd(to.true_positives, from.true_positives);
  to.false_positives = SaturatingAdd(to.false_positives, from.false_positives);
  to.true_negatives = SaturatingAdd(to.true_negatives, from.true_negatives);
  to.false_negatives = SaturatingAdd(to.false_negatives, from.false_negatives);
}

FairnessGaps ComputeGaps(absl::Span<const GroupRates> groups,
                         const GroupRates& overall,
                         absl::string_view reference_group) {
  FairnessGaps gaps;
  const GroupRates* reference = FindReference(groups, reference_group);
  gaps.reference_group = !reference_group.empty() ? std::string(reference_group)
                         : reference != nullptr   ? reference->group
                                                  : std::string();
  gaps.demographic_parity = Criterion(groups, kSelection, overall, reference);
  gaps.equal_opportunity = Criterion(groups, kTruePositive, overall, reference);
  gaps.false_positive_parity =
      Criterion(groups, kFalsePositive, overall, reference);
  gaps.predictive_parity = Criterion(groups, kPrecision, overall, reference);
  gaps.equalized_odds =
      EqualizedOdds(gaps.equal_opportunity, gaps.false_positive_parity);

  gaps.demographic_parity_difference = gaps.demographic_parity.difference;
  gaps.demographic_parity_ratio = gaps.demographic_parity.ratio;
  gaps.true_positive_rate_difference = gaps.equal_opportunity.difference;
  gaps.false_positive_rate_difference = gaps.false_positive_parity.difference;
  gaps.equalized_odds_difference = gaps.equalized_odds.difference;
  return gaps;
}

FairnessGaps ComputeGaps(absl::Span<const GroupRates> groups) {
  GroupRates overall;
  for (const GroupRates& g : groups) AddCounts(overall, g);
  FillRates(overall, NormalQuantile(1 - (1 - kRateConfidence) / 2));
  return ComputeGaps(groups, overall, "");
}

}  // namespace vigie::monitors
