#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "monitors/drift.h"
#include "monitors/drift_stats.h"

namespace vigie::monitors {

// How a window's features are compared with the reference.
struct DriftReportOptions {
  // Bins at the reference's quantiles for a numeric feature (plus an
  // open-ended bin below its minimum and one above its maximum). Range:
  // [2, 100]. Default: 10.
  uint32_t bins = 10;
  // Categories of a categorical feature binned on their own, the most
  // frequent in the reference first; the others share an "other" bin.
  // Range: [1, 1000]. Default: 20.
  uint32_t max_categories = 20;
  // The proportion an empty bin counts for in PSI (Evidently's 0.0001):
  // without it one empty bin makes PSI infinite. Range: (0, 0.01].
  double psi_epsilon = 1e-4;
  // Evidently's default method choice: a reference of at most this many
  // values is tested (KS, chi-square or z-test at p < p_value_threshold),
  // a larger one measured (normed Wasserstein or Jensen-Shannon distance at
  // or above distance_threshold), since with many values a test finds
  // every negligible shift significant. Defaults: 1,000, 0.05, 0.1.
  uint64_t small_reference_values = 1000;
  double p_value_threshold = 0.05;
  double distance_threshold = 0.1;

  // kInvalidArgument for anything out of range.
  absl::Status Validate() const;
};

// What a reference sample says of one feature: how it is binned, and its
// proportions in those bins.
struct FeatureProfile {
  std::string name;
  FeatureSample::Kind kind = FeatureSample::Kind::kNumeric;
  uint64_t count = 0;  // Values.
  double missing_rate = 0;
  // Numeric: range, moments (population standard deviation), and the
  // values when there are at most 5 distinct ones (the feature is then
  // binned by value, as a categorical one: Evidently's rule).
  double min = 0, max = 0, mean = 0, stddev = 0;
  std::vector<double> edges;  // Inner bin edges, ascending, distinct.
  std::vector<double> distinct_values;
  // Categorical: the categories binned on their own, by frequency.
  std::vector<std::string> categories;
  // The bins' labels and the reference's proportions in them.
  std::vector<std::string> bin_labels;
  std::vector<double> proportions;
};

// A model's reference: the DriftMonitor of a reference sample (uploaded, or
// a frozen period of the stream) and the profile of each of its features.
class ReferenceProfile {
 public:
  // kInvalidArgument for bad options.
  static absl::StatusOr<ReferenceProfile> Build(DriftMonitor reference,
                                                const DriftReportOptions& o);

  const DriftMonitor& sample() const { return sample_; }
  const DriftReportOptions& options() const { return options_; }
  // Sorted by name, as the sample's features.
  const std::vector<FeatureProfile>& features() const { return features_; }
  const FeatureProfile* Find(absl::string_view name) const;

 private:
  ReferenceProfile(DriftMonitor sample, const DriftReportOptions& options)
      : sample_(std::move(sample)), options_(options) {}

  DriftMonitor sample_;
  DriftReportOptions options_;
  std::vector<FeatureProfile> features_;
};

// One feature of a window against its reference profile.
struct FeatureDrift {
  std::string feature;
  FeatureSample::Kind kind = FeatureSample::Kind::kNumeric;
  uint64_t reference_count = 0;
  uint64_t current_count = 0;
  double reference_missing_rate = 0;
  double missing_rate = 0;  // Of the window's predictions (labels: 0).
  // Numeric: values below the reference's minimum or above its maximum;
  // categorical: values of categories the reference never had.
  double out_of_range_rate = 0;
  // Over the profile's bins.
  std::vector<double> current_proportions;
  double psi = 0;
  double jensen_shannon = 0;  // Base 2.
  double hellinger = 0;
  // Numeric (binned by quantile): Wasserstein-1 over the reference's
  // standard deviation (at least 0.001, as Evidently), and the two-sample
  // Kolmogorov-Smirnov test of the two sketches.
  std::optional<double> wasserstein_normed;
  std::optional<KsTest> ks;
  // Binned by value or category: chi-square goodness of fit of the window
  // against the reference's proportions, or with two values the
  // two-proportion z-test of the first one.
  std::optional<ChiSquareTest> chi_square;
  std::optional<double> z;
  std::optional<double> z_p_value;
  // The verdict of Evidently's default rule (DriftReportOptions): its
  // method ("ks", "chi_square", "z_test", "wasserstein", "jensen_shannon"),
  // its statistic (the distance, or the test's statistic), the p-value of a
  // test, and whether it says the feature drifted.
  std::string method;
  double statistic = 0;
  std::optional<double> p_value;
  bool drifted = false;
};

// A window's features against the reference: those present in both.
struct DriftReport {
  std::vector<FeatureDrift> features;  // Sorted by name.
  // The verdict's p-value threshold (DriftReportOptions), for callers that
  // adjust the p-values of several features before deciding.
  double p_value_threshold = 0.05;
};

// Compares `current` (a window's DriftMonitor) with `reference`. Pure.
DriftReport CompareWithReference(const DriftMonitor& current,
                                 const ReferenceProfile& reference);

}  // namespace vigie::monitors
