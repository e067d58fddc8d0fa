#include "monitors/drift_report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

// Evidently tests a numeric feature with at most this many distinct values
// as a categorical one.
constexpr size_t kMaxDistinctAsCategories = 5;

// The distinct values of a numeric sample, up to `limit` + 1 of them (more
// than `limit` means "many"). From the retained values: exact while the
// sketch is, and a sketch of a feature with few values retains only those.
std::vector<double> DistinctValues(const QuantileSketch& sketch, size_t limit) {
  std::vector<double> values;
  for (const WeightedValue& v : sketch.Sorted()) {
    if (values.empty() || values.back() != v.value) {
      values.push_back(v.value);
      if (values.size() > limit) break;
    }
  }
  return values;
}

double Count(const QuantileSketch& sketch, double value) {
  return sketch.Rank(value) - sketch.RankBelow(value);
}

std::vector<double> Proportions(std::vector<double> counts) {
  double total = 0;
  for (double c : counts) total += c;
  if (total > 0) {
    for (double& c : counts) c /= total;
  }
  return counts;
}

// Counts of a numeric sample in the profile's bins: by value when the
// profile has distinct values (the last bin holds any other value), else
// below the minimum, each quantile bin, above the maximum.
std::vector<double> NumericCounts(const FeatureProfile& profile,
                                  const QuantileSketch& sketch) {
  std::vector<double> counts;
  const double n = static_cast<double>(sketch.count());
  if (!profile.distinct_values.empty()) {
    double listed = 0;
    for (double v : profile.distinct_values) {
      counts.push_back(Count(sketch, v));
      listed += counts.back();
    }
    counts.push_back(std::max(0.0, n - listed));
    return counts;
  }
  counts.push_back(sketch.RankBelow(profile.min));
  double lower = sketch.RankBelow(profile.min);
  for (double edge : profile.edges) {
    const double upper = sketch.Rank(edge);
    counts.push_back(std::max(0.0, upper - lower));
    lower = upper;
  }
  const double at_max = sketch.Rank(profile.max);
  counts.push_back(std::max(0.0, at_max - lower));
  counts.push_back(std::max(0.0, n - at_max));
  return counts;
}

std::vector<double> CategoryCounts(const FeatureProfile& profile,
                                   const FeatureSample& sample) {
  std::vector<double> counts(profile.categories.size() + 1, 0.0);
  double listed = 0;
  for (size_t i = 0; i < profile.categories.size(); ++i) {
    const auto it = sample.categories.find(profile.categories[i]);
    if (it != sample.categories.end()) {
      counts[i] = static_cast<double>(it->second);
      listed += counts[i];
    }
  }
  counts.back() = static_cast<double>(sample.observed) - listed;
  return counts;
}

double MissingRate(const FeatureSample& sample, uint64_t events) {
  if (events == 0) return 0;
  // Events that did not carry the feature, and those that carried no value.
  const uint64_t present = sample.observed + sample.type_conflicts;
  const uint64_t absent = events > present ? events - present : 0;
  return static_cast<double>(absent) / static_cast<double>(events);
}

uint64_t EventsOf(const DriftMonitor& monitor, const FeatureSample& sample) {
  return sample.name == kLabelFeature ? monitor.labels()
                                      : monitor.predictions();
}

FeatureProfile ProfileOf(const FeatureSample& sample, uint64_t events,
                         const DriftReportOptions& options) {
  FeatureProfile profile;
  profile.name = sample.name;
  profile.kind = sample.kind;
  profile.count = sample.observed;
  profile.missing_rate = MissingRate(sample, events);
  if (sample.kind == FeatureSample::Kind::kCategorical) {
    std::vector<std::pair<std::string, uint64_t>> by_count(
        sample.categories.begin(), sample.categories.end());
    // Most frequent first; ties by name, so that the bins are stable.
    std::stable_sort(
        by_count.begin(), by_count.end(),
        [](const auto& a, const auto& b) { return a.second > b.second; });
    if (by_count.size() > options.max_categories) {
      by_count.resize(options.max_categories);
    }
    for (const auto& [category, count] : by_count) {
      profile.categories.push_back(category);
      profile.bin_labels.push_back(category);
    }
    profile.bin_labels.push_back("other");
    profile.proportions = Proportions(CategoryCounts(profile, sample));
    return profile;
  }
  const QuantileSketch& sketch = sample.sketch;
  const double n = static_cast<double>(sample.observed);
  profile.min = sketch.min();
  profile.max = sketch.max();
  profile.mean = sample.sum / n;
  profile.stddev = std::sqrt(
      std::max(0.0, sample.sum_squares / n - profile.mean * profile.mean));
  std::vector<double> distinct =
      DistinctValues(sketch, kMaxDistinctAsCategories);
  if (distinct.size() <= kMaxDistinctAsCategories) {
    profile.distinct_values = std::move(distinct);
    for (double v : profile.distinct_values) {
      profile.bin_labels.push_back(absl::StrCat(v));
    }
    profile.bin_labels.push_back("other");
  } else {
    for (uint32_t i = 1; i < options.bins; ++i) {
      const double edge = sketch.Quantile(static_cast<double>(i) /
                                          static_cast<double>(options.bins));
      // Ties make quantiles repeat; a bin of no width is dropped.
      if (edge < profile.max &&
          (profile.edges.empty() || edge > profile.edges.back()) &&
          edge >= profile.min) {
        profile.edges.push_back(edge);
      }
    }
    profile.bin_labels.push_back(absl::StrCat("< ", profile.min));
    double lower = profile.min;
    for (double edge : profile.edges) {
      profile.bin_labels.push_back(absl::StrCat(lower, " to ", edge));
      lower = edge;
    }
    profile.bin_labels.push_back(absl::StrCat(lower, " to ", profile.max));
    profile.bin_labels.push_back(absl::StrCat("> ", profile.max));
  }
  profile.proportions = Proportions(NumericCounts(profile, sketch));
  return profile;
}

// Evidently's choice among the tests (small reference) and the distances.
void Decide(FeatureDrift& drift, const FeatureProfile& profile,
            const DriftReportOptions& options) {
  const bool by_value = profile.kind == FeatureSample::Kind::kCategorical ||
                        !profile.distinct_values.empty();
  const size_t values = by_value ? profile.proportions.size() - 1 : 0;
  if (profile.count <= options.small_reference_values) {
    if (!by_value && drift.ks.has_value()) {
      drift.method = "ks";
      drift.statistic = drift.ks->statistic;
      drift.p_value = drift.ks->p_value;
    } else if (values <= 2 && drift.z_p_value.has_value()) {
      drift.method = "z_test";
      drift.statistic = drift.z.value_or(0);
      drift.p_value = drift.z_p_value;
    } else {
      drift.method = "chi_square";
      drift.statistic = drift.chi_square->statistic;
      drift.p_value = drift.chi_square->p_value;
    }
    drift.drifted = *drift.p_value < options.p_value_threshold;
    return;
  }
  if (!by_value && drift.wasserstein_normed.has_value()) {
    drift.method = "wasserstein";
    drift.statistic = *drift.wasserstein_normed;
  } else {
    drift.method = "jensen_shannon";
    drift.statistic = drift.jensen_shannon;
  }
  drift.drifted = drift.statistic >= options.distance_threshold;
}

}  // namespace

absl::Status DriftReportOptions::Validate() const {
  if (bins < 2 || bins > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("bins must be in [2, 100], got ", bins));
  }
  if (max_categories < 1 || max_categories > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_categories must be in [1, 1000], got ", max_categories));
  }
  if (!(psi_epsilon > 0 && psi_epsilon <= 0.01)) {
    return absl::InvalidArgumentError(
        absl::StrCat("psi_epsilon must be in (0, 0.01], got ", psi_epsilon));
  }
  if (!(p_value_threshold > 0 && p_value_threshold < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "p_value_threshold must be in (0, 1), got ", p_value_threshold));
  }
  if (!(distance_threshold > 0 && distance_threshold <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "distance_threshold must be in (0, 1], got ", distance_threshold));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReferenceProfile> ReferenceProfile::Build(
    DriftMonitor reference, const DriftReportOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  ReferenceProfile profile(std::move(reference), options);
  for (const FeatureSample& sample : profile.sample_.features()) {
    if (sample.observed == 0) continue;
    profile.features_.push_back(
        ProfileOf(sample, EventsOf(profile.sample_, sample), options));
  }
  return profile;
}

const FeatureProfile* ReferenceProfile::Find(absl::string_view name) const {
  const auto it =
      std::lower_bound(features_.begin(), features_.end(), name,
                       [](const FeatureProfile& f, absl::string_view key) {
                         return f.name < key;
                       });
  if (it == features_.end() || it->name != name) return nullptr;
  return &*it;
}

DriftReport CompareWithReference(const DriftMonitor& current,
                                 const ReferenceProfile& reference) {
  DriftReport report;
  const DriftReportOptions& options = reference.options();
  report.p_value_threshold = options.p_value_threshold;
  for (const FeatureSample& sample : current.features()) {
    const FeatureProfile* profile = reference.Find(sample.name);
    const FeatureSample* ref_sample = reference.sample().Find(sample.name);
    if (profile == nullptr || ref_sample == nullptr || sample.observed == 0 ||
        sample.kind != profile->kind) {
      continue;
    }
    FeatureDrift drift;
    drift.feature = sample.name;
    drift.kind = sample.kind;
    drift.reference_count = profile->count;
    drift.current_count = sample.observed;
    drift.reference_missing_rate = profile->missing_rate;
    drift.missing_rate = MissingRate(sample, EventsOf(current, sample));
    const double n = static_cast<double>(sample.observed);
    std::vector<double> counts;
    if (sample.kind == FeatureSample::Kind::kNumeric) {
      counts = NumericCounts(*profile, sample.sketch);
      const double outside = sample.sketch.RankBelow(profile->min) +
                             (n - sample.sketch.Rank(profile->max));
      drift.out_of_range_rate = std::clamp(outside / n, 0.0, 1.0);
      const std::vector<WeightedValue> ref_values = ref_sample->sketch.Sorted();
      const std::vector<WeightedValue> cur_values = sample.sketch.Sorted();
      drift.wasserstein_normed = Wasserstein1(ref_values, cur_values) /
                                 std::max(profile->stddev, 0.001);
      drift.ks = KolmogorovSmirnovTest(ref_values, cur_values);
    } else {
      counts = CategoryCounts(*profile, sample);
      double unseen = static_cast<double>(sample.untracked);
      for (const auto& [category, count] : sample.categories) {
        if (!ref_sample->categories.contains(category)) {
          unseen += static_cast<double>(count);
        }
      }
      drift.out_of_range_rate = std::clamp(unseen / n, 0.0, 1.0);
    }
    drift.current_proportions = Proportions(counts);
    drift.psi = PopulationStabilityIndex(profile->proportions, counts,
                                         options.psi_epsilon);
    drift.jensen_shannon = JensenShannonDistance(profile->proportions, counts);
    drift.hellinger = HellingerDistance(profile->proportions, counts);
    const bool by_value = sample.kind == FeatureSample::Kind::kCategorical ||
                          !profile->distinct_values.empty();
    if (by_value) {
      // Expected counts: the reference's proportions of the window's size.
      // Bins empty in both are left out (they carry no degree of freedom).
      std::vector<double> observed;
      std::vector<double> expected;
      size_t nonempty = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] == 0 && profile->proportions[i] == 0) continue;
        observed.push_back(counts[i]);
        expected.push_back(profile->proportions[i] * n);
        ++nonempty;
      }
      if (nonempty >= 2) {
        drift.chi_square = ChiSquareGoodnessOfFit(observed, expected);
      } else {
        drift.chi_square = ChiSquareTest{0, 1, 0};
      }
      if (nonempty <= 2 && !counts.empty()) {
        // The share of the first bin in each sample.
        const double ref_n = static_cast<double>(profile->count);
        const auto x_ref = static_cast<uint64_t>(
            std::llround(profile->proportions[0] * ref_n));
        const auto x_cur = static_cast<uint64_t>(std::llround(counts[0]));
        const TwoProportionTest z =
            CompareProportions(x_ref, profile->count, x_cur, sample.observed);
        drift.z = z.z;
        drift.z_p_value = z.p_value;
      }
    }
    Decide(drift, *profile, options);
    report.features.push_back(std::move(drift));
  }
  return report;
}

}  // namespace vigie::monitors
