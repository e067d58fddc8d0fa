#include "monitors/drift.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "monitors/drift_report.h"
#include "monitors/prediction_view.h"
#include "tests/testutil/hostile_bytes.h"
#include "vigie/state/v1/drift.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

DriftMonitor NewMonitor(DriftMonitor::Options options = {}) {
  return *DriftMonitor::Create(options);
}

vigie::v1::Prediction Numeric(const std::string& name, double value) {
  vigie::v1::Prediction p;
  p.set_model_id("m");
  (*p.mutable_features())[name].set_numeric(value);
  return p;
}

vigie::v1::Prediction Categorical(const std::string& name,
                                  const std::string& value) {
  vigie::v1::Prediction p;
  p.set_model_id("m");
  (*p.mutable_features())[name].set_categorical(value);
  return p;
}

void Observe(DriftMonitor& monitor, const vigie::v1::Prediction& p) {
  monitor.ObservePrediction(PredictionView::Of(p));
}

// The reference's decile edges as the profile defines them, computed from
// the sorted sample: the smallest value whose rank reaches q n.
std::vector<double> Edges(std::vector<double> sorted, int bins) {
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> edges;
  const double n = static_cast<double>(sorted.size());
  for (int i = 1; i < bins; ++i) {
    const double target = n * i / bins;
    size_t k = 0;
    while (static_cast<double>(k + 1) < target) ++k;
    const double edge = sorted[k];
    if (edge < sorted.back() && (edges.empty() || edge > edges.back())) {
      edges.push_back(edge);
    }
  }
  return edges;
}

// Proportions of `values` in the bins below min, [min, e1], (e1, e2], ...,
// (e_last, max], above max.
std::vector<double> Binned(const std::vector<double>& values, double min,
                           double max, const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() + 3, 0);
  for (double v : values) {
    if (v < min) {
      ++counts[0];
    } else if (v > max) {
      ++counts.back();
    } else {
      size_t bin = 0;
      while (bin < edges.size() && v > edges[bin]) ++bin;
      ++counts[bin + 1];
    }
  }
  for (double& c : counts) c /= static_cast<double>(values.size());
  return counts;
}

double Psi(const std::vector<double>& ref, const std::vector<double>& cur) {
  double psi = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = std::max(ref[i], 1e-4);
    const double c = std::max(cur[i], 1e-4);
    psi += (c - r) * std::log(c / r);
  }
  return psi;
}

// sup |F_a - F_b| over every value of either sample.
double KsStatistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double d = 0;
  for (const std::vector<double>* s : {&a, &b}) {
    for (double x : *s) {
      const double fa =
          static_cast<double>(std::upper_bound(a.begin(), a.end(), x) -
                              a.begin()) /
          static_cast<double>(a.size());
      const double fb =
          static_cast<double>(std::upper_bound(b.begin(), b.end(), x) -
                              b.begin()) /
          static_cast<double>(b.size());
      d = std::max(d, std::abs(fa - fb));
    }
  }
  return d;
}

// The integral of |F_a - F_b| between consecutive values of the pooled
// sample.
double Wasserstein(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  double w = 0;
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    const double x = all[i];
    const double fa = static_cast<double>(
                          std::upper_bound(a.begin(), a.end(), x) - a.begin()) /
                      static_cast<double>(a.size());
    const double fb = static_cast<double>(
                          std::upper_bound(b.begin(), b.end(), x) - b.begin()) /
                      static_cast<double>(b.size());
    w += std::abs(fa - fb) * (all[i + 1] - x);
  }
  return w;
}

TEST(DriftMonitorTest, CountsValuesMissingAndConflicts) {
  DriftMonitor monitor = NewMonitor();
  Observe(monitor, Numeric("age", 30));
  Observe(monitor, Numeric("age", std::nan("")));
  Observe(monitor, Categorical("age", "old"));  // Kind conflict.
  vigie::v1::Prediction empty;
  (*empty.mutable_features())["age"];  // A value with no member: missing.
  Observe(monitor, empty);
  Observe(monitor, Categorical("city", "Paris"));  // age absent.
  const FeatureSample* age = monitor.Find("age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->kind, FeatureSample::Kind::kNumeric);
  EXPECT_EQ(age->observed, 1u);
  EXPECT_EQ(age->missing, 2u);
  EXPECT_EQ(age->type_conflicts, 1u);
  EXPECT_EQ(monitor.predictions(), 5u);
  const FeatureSample* city = monitor.Find("city");
  ASSERT_NE(city, nullptr);
  EXPECT_EQ(city->categories.CountOf("Paris"), 1u);
}

TEST(DriftMonitorTest, KeepsThePredictionAndTheLabel) {
  DriftMonitor monitor = NewMonitor();
  vigie::v1::Prediction p;
  p.mutable_binary()->set_score(0.75);
  Observe(monitor, p);
  vigie::v1::Prediction r;
  r.mutable_regression()->set_value(2.5);
  // A feature named like the prediction is dropped, and counted.
  (*r.mutable_features())["@prediction"].set_numeric(9);
  Observe(monitor, r);
  vigie::v1::Outcome outcome;
  outcome.set_binary(true);
  monitor.ObserveLabel(outcome);
  const FeatureSample* prediction = monitor.Find(kPredictionFeature);
  ASSERT_NE(prediction, nullptr);
  EXPECT_EQ(prediction->observed, 2u);
  EXPECT_DOUBLE_EQ(prediction->sum, 0.75 + 2.5);
  EXPECT_EQ(monitor.features_dropped(), 1u);
  const FeatureSample* label = monitor.Find(kLabelFeature);
  ASSERT_NE(label, nullptr);
  EXPECT_EQ(label->observed, 1u);
  EXPECT_EQ(monitor.labels(), 1u);
}

TEST(DriftMonitorTest, BoundsFeaturesAndCategories) {
  DriftMonitor monitor = NewMonitor({.max_features = 2, .max_categories = 3});
  for (const std::string name : {"a", "b", "c"}) {
    Observe(monitor, Categorical(name, "x"));
  }
  EXPECT_EQ(monitor.Find("c"), nullptr);
  EXPECT_EQ(monitor.features_dropped(), 1u);
  for (const std::string value : {"p", "q", "r", "s", "s"}) {
    Observe(monitor, Categorical("a", value));
  }
  const FeatureSample* a = monitor.Find("a");
  EXPECT_EQ(a->categories.size(), 3u);
  EXPECT_EQ(a->untracked, 3u);  // x, p, q kept; r and s twice not.
  EXPECT_EQ(a->observed, 6u);
}

// Events whose feature sets change from one to the next (features absent,
// one appearing late, values of the other kind, missing values, a feature
// named like the prediction), recounted straight in the test: the walk,
// which expects the features of the event before, must still put each
// value where it belongs.
// What DriftMonitor keeps, recounted straight from the events, in their
// order and each event's features in name order (so that the first
// max_features names are the ones kept, and every sum is added in the
// monitor's order): an independent computation to check it against.
struct Recount {
  struct Feature {
    bool categorical = false;
    uint64_t observed = 0;
    uint64_t missing = 0;
    uint64_t conflicts = 0;
    double sum = 0;
    double sum_squares = 0;
    std::vector<double> values;
    std::map<std::string, uint64_t> categories;
    uint64_t untracked = 0;
  };
  size_t max_features = 100;
  size_t max_categories = 200;
  std::map<std::string, Feature> features;
  size_t inputs = 0;
  uint64_t dropped = 0;
  uint64_t predictions = 0;

  void AddNumber(Feature& f, double x) {
    if (f.categorical) {
      ++f.conflicts;
    } else if (!std::isfinite(x)) {
      ++f.missing;
    } else {
      ++f.observed;
      f.values.push_back(x);
      f.sum += x;
      f.sum_squares += x * x;
    }
  }
  void Add(const std::string& name, const vigie::v1::FeatureValue& value) {
    if (name == kPredictionFeature || name == kLabelFeature) {
      ++dropped;
      return;
    }
    auto it = features.find(name);
    if (it == features.end()) {
      if (inputs == max_features) {
        ++dropped;
        return;
      }
      ++inputs;
      it = features.emplace(name, Feature{}).first;
      it->second.categorical = value.has_categorical();
    }
    Feature& f = it->second;
    if (value.has_numeric()) {
      AddNumber(f, value.numeric());
    } else if (!value.has_categorical()) {
      ++f.missing;
    } else if (!f.categorical) {
      ++f.conflicts;
    } else {
      ++f.observed;
      auto category = f.categories.find(value.categorical());
      if (category != f.categories.end()) {
        ++category->second;
      } else if (f.categories.size() < max_categories) {
        f.categories.emplace(value.categorical(), 1);
      } else {
        ++f.untracked;
      }
    }
  }
  void Observe(const vigie::v1::Prediction& p) {
    ++predictions;
    const std::map<std::string, vigie::v1::FeatureValue> sorted(
        p.features().begin(), p.features().end());
    for (const auto& [name, value] : sorted) Add(name, value);
    if (p.has_binary()) {
      AddNumber(features[std::string(kPredictionFeature)], p.binary().score());
    }
  }
  void ObserveLabel(double label) {
    AddNumber(features[std::string(kLabelFeature)], label);
  }

  void ExpectMatches(const DriftMonitor& monitor) const {
    EXPECT_EQ(monitor.predictions(), predictions);
    EXPECT_EQ(monitor.features_dropped(), dropped);
    ASSERT_EQ(monitor.features().size(), features.size());
    for (const auto& [name, e] : features) {
      SCOPED_TRACE(name);
      const FeatureSample* f = monitor.Find(name);
      ASSERT_NE(f, nullptr);
      EXPECT_EQ(f->kind == FeatureSample::Kind::kCategorical, e.categorical);
      EXPECT_EQ(f->observed, e.observed);
      EXPECT_EQ(f->missing, e.missing);
      EXPECT_EQ(f->type_conflicts, e.conflicts);
      EXPECT_EQ(f->sum, e.sum);
      EXPECT_EQ(f->sum_squares, e.sum_squares);
      EXPECT_EQ(f->untracked, e.untracked);
      EXPECT_EQ(f->categories.size(), e.categories.size());
      for (const auto& [category, count] : e.categories) {
        EXPECT_EQ(f->categories.CountOf(category), count) << category;
      }
      std::vector<double> got;
      for (const WeightedValue& v : f->sketch.Sorted()) {
        got.insert(got.end(), v.weight, v.value);
      }
      if (e.values.size() > 1024) {
        // The sketch has compacted: it weighs every value, not each.
        EXPECT_EQ(got.size(), e.values.size());
        continue;
      }
      // Few enough values for the sketch to be exact: it holds them all.
      std::vector<double> want = e.values;
      std::sort(want.begin(), want.end());
      EXPECT_EQ(got, want);
    }
  }
};

TEST(DriftMonitorTest, VaryingFeatureSetsMatchAStraightRecount) {
  const std::vector<std::string> numeric = {"age", "d10", "d9", "x", "zeta"};
  const std::vector<std::string> categorical = {"b", "city"};
  Recount recount;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform;
  DriftMonitor monitor = NewMonitor();
  for (int event = 0; event < 3000; ++event) {
    vigie::v1::Prediction p;
    p.set_model_id("m");
    p.mutable_binary()->set_score(uniform(rng));
    auto& features = *p.mutable_features();
    for (const std::string& name : numeric) {
      if (uniform(rng) < 0.2) continue;  // Absent from this event.
      const double draw = uniform(rng);
      vigie::v1::FeatureValue& value = features[name];
      if (draw < 0.05) {
        value.set_categorical("oops");
      } else if (draw < 0.08) {
        value.set_numeric(std::nan(""));
      } else if (draw >= 0.1) {
        value.set_numeric(std::round(uniform(rng) * 1000) / 8);
      }  // Else: a value with nothing set.
    }
    for (const std::string& name : categorical) {
      if (uniform(rng) < 0.2) continue;
      const double draw = uniform(rng);
      vigie::v1::FeatureValue& value = features[name];
      if (draw < 0.05) {
        value.set_numeric(1);
      } else {
        value.set_categorical(
            std::string(1, static_cast<char>('a' + rng() % 7)));
      }
    }
    if (event >= 1000 && uniform(rng) < 0.5) {
      features["a_late"].set_numeric(static_cast<double>(event));
    }
    if (uniform(rng) < 0.1) {
      features[std::string(kPredictionFeature)].set_numeric(5);
    }
    recount.Observe(p);
    Observe(monitor, p);
  }
  recount.ExpectMatches(monitor);
  // Some of each: the recount is not trivially empty.
  EXPECT_GT(recount.dropped, 0u);
  EXPECT_GT(recount.features.at("a_late").observed, 0u);
  EXPECT_GT(recount.features.at("age").conflicts, 0u);
  EXPECT_GT(recount.features.at("city").conflicts, 0u);
  EXPECT_GT(recount.features.at(std::string(kPredictionFeature)).observed,
            1024u);
}

// Runs of events with the same feature names, which ObservePrediction
// matches against the last event's samples position by position, broken by
// events whose names differ from the last one's (in count, or at one
// position with a name of the same size), add a feature mid-event or
// create the prediction's and the label's samples (which moves every
// sample), and whose values are missing, not finite or of the other kind;
// the monitor is copied and round-tripped mid-stream. Each monitor must
// match a straight recount of its own events.
TEST(DriftMonitorTest, EventsLikeTheLastOneMatchAStraightRecount) {
  const std::vector<std::vector<std::string>> shapes = {
      {"b", "c1", "n1", "n2", "zz"},
      {"b", "c1", "m1", "n2", "zz"},  // Same size, n1 -> m1.
      {"b", "c1", "n1", "n2", "zz"},
      {"a0", "b", "c1", "n1", "n2", "zz"},   // A new first feature.
      {"b", "c1", "n1", "n2", "zz", "zzz"},  // A new last feature.
      {"b", "c1", "n1", "n2", "zz"},
      {"@prediction", "b", "c1", "n1", "n2"},  // Dropped, not kept.
      {"b", "c1", "n1", "n2", "q_a_longer_feature_name"},
      {"b", "c1", "n1", "n2", "q_a_longer_feature_namf"},
      {"b", "c1", "n1"},
      {"b", "c1", "n1", "n2", "zz"},
  };
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> uniform;
  const auto value_of = [&](const std::string& name) {
    vigie::v1::FeatureValue value;
    const double draw = uniform(rng);
    const bool categorical = name[0] == 'b' || name[0] == 'c';
    if (draw < 0.04) {
      // Nothing set: missing.
    } else if (draw < 0.07) {
      value.set_numeric(draw < 0.055 ? std::nan("")
                                     : std::numeric_limits<double>::infinity());
    } else if (draw < 0.1) {
      // The other kind.
      if (categorical) {
        value.set_numeric(1.5);
      } else {
        value.set_categorical("x");
      }
    } else if (categorical) {
      value.set_categorical(
          std::string(1 + rng() % 9, static_cast<char>('a' + rng() % 5)));
    } else {
      value.set_numeric(uniform(rng) * 100 - 50);
    }
    return value;
  };
  // Fillers, features of the first event only, vary the number of samples
  // when each new one is added, so that some addition moves the samples to
  // a larger vector.
  for (const size_t max_features : {size_t{100}, size_t{4}}) {
    for (int fillers = 0; fillers < 9; ++fillers) {
      SCOPED_TRACE(testing::Message() << max_features << " features at most, "
                                      << fillers << " fillers");
      const DriftMonitor::Options options{
          .max_features = static_cast<uint32_t>(max_features),
          .max_categories = 6};
      DriftMonitor monitor = NewMonitor(options);
      Recount recount;
      recount.max_features = max_features;
      recount.max_categories = 6;
      std::optional<DriftMonitor> copy;
      Recount copy_recount;
      for (int event = 0; event < 700; ++event) {
        vigie::v1::Prediction p;
        p.set_model_id("m");
        // The prediction's sample appears only after a few events.
        if (event >= 30) p.mutable_binary()->set_score(uniform(rng));
        for (int f = 0; event == 0 && f < fillers; ++f) {
          (*p.mutable_features())["f" + std::to_string(f)].set_numeric(f);
        }
        const std::vector<std::string>& shape =
            shapes[(event / 12) % shapes.size()];
        for (const std::string& name : shape) {
          (*p.mutable_features())[name] = value_of(name);
        }
        const std::string bytes = p.SerializeAsString();
        const absl::StatusOr<PredictionView> view =
            PredictionView::Decode(bytes);
        ASSERT_TRUE(view.ok());
        monitor.ObservePrediction(*view);
        recount.Observe(p);
        if (event % 5 == 0) {  // The same view again: the same name pointers.
          monitor.ObservePrediction(*view);
          recount.Observe(p);
        }
        if (event == 100) {  // The label's sample appears.
          vigie::v1::Outcome outcome;
          outcome.set_regression(2.5);
          monitor.ObserveLabel(outcome);
          recount.ObserveLabel(2.5);
        }
        if (event == 200) {
          copy = monitor;
          copy_recount = recount;
        }
        if (copy.has_value() && event % 2 == 0) {
          // The copy sees every other event from here on, the original all.
          copy->ObservePrediction(*view);
          copy_recount.Observe(p);
        }
        if (event == 400) {
          state::v1::DriftState state;
          monitor.ToProto(&state);
          absl::StatusOr<DriftMonitor> back =
              DriftMonitor::FromProto(state, options);
          ASSERT_TRUE(back.ok()) << back.status();
          monitor = *std::move(back);
        }
      }
      recount.ExpectMatches(monitor);
      {
        SCOPED_TRACE("copy");
        copy_recount.ExpectMatches(*copy);
      }
    }
  }
}

TEST(DriftMonitorTest, MergeEqualsObservingEverything) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  DriftMonitor whole = NewMonitor();
  DriftMonitor left = NewMonitor();
  DriftMonitor right = NewMonitor();
  for (int i = 0; i < 600; ++i) {
    vigie::v1::Prediction p = Numeric("x", normal(rng));
    (*p.mutable_features())["c"].set_categorical(i % 3 ? "a" : "b");
    Observe(whole, p);
    Observe(i < 250 ? left : right, p);
  }
  ASSERT_TRUE(left.Merge(right).ok());
  state::v1::DriftState a, b;
  left.ToProto(&a);
  whole.ToProto(&b);
  // Exact sketches (600 values) and counts: the same state but for the
  // order of the sums' additions.
  ASSERT_EQ(a.features_size(), b.features_size());
  for (int f = 0; f < a.features_size(); ++f) {
    EXPECT_EQ(a.features(f).observed(), b.features(f).observed());
    EXPECT_NEAR(a.features(f).sum(), b.features(f).sum(), 1e-9);
    EXPECT_EQ(a.features(f).categories_size(), b.features(f).categories_size());
  }
  EXPECT_EQ(left.Find("x")->sketch.Sorted().size(), 600u);
}

TEST(DriftMonitorTest, StateRoundTripsAndRejectsCorruption) {
  DriftMonitor monitor = NewMonitor();
  for (int i = 0; i < 50; ++i) {
    vigie::v1::Prediction p = Numeric("x", i);
    (*p.mutable_features())["c"].set_categorical(i % 2 ? "a" : "b");
    Observe(monitor, p);
  }
  state::v1::DriftState state;
  monitor.ToProto(&state);
  absl::StatusOr<DriftMonitor> back = DriftMonitor::FromProto(state, {});
  ASSERT_TRUE(back.ok()) << back.status();
  state::v1::DriftState again;
  back->ToProto(&again);
  EXPECT_EQ(again.SerializeAsString(), state.SerializeAsString());

  state::v1::DriftState bad = state;
  bad.mutable_features(0)->mutable_categories(0)->set_count(99);
  EXPECT_EQ(DriftMonitor::FromProto(bad, {}).status().code(),
            absl::StatusCode::kDataLoss);
  bad = state;
  bad.mutable_features()->SwapElements(0, 1);
  EXPECT_EQ(DriftMonitor::FromProto(bad, {}).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DriftMonitor::FromProto(state, {.max_features = 7}).status().code(),
            absl::StatusCode::kDataLoss);
  // Hostile bytes: parsed or not, never a crash.
  std::vector<std::string> hostile =
      testutil::EachBitFlipped(state.SerializeAsString());
  for (const std::string& bytes : testutil::RandomByteStrings(9, 300, 200)) {
    hostile.push_back(bytes);
  }
  google::protobuf::LogSilencer quiet;  // Invalid UTF-8 is logged.
  for (const std::string& bytes : hostile) {
    state::v1::DriftState parsed;
    if (!parsed.ParseFromString(bytes)) continue;
    (void)DriftMonitor::FromProto(parsed, {});
  }
}

// A numeric feature whose mean shifts by half a standard deviation, with
// samples small enough for the sketches to be exact: PSI over the
// reference's deciles, KS and normed Wasserstein equal the figures computed
// here from the raw values.
TEST(DriftReportTest, NumericShiftMatchesDirectFormulas) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> ref_values, cur_values;
  DriftMonitor reference = NewMonitor();
  DriftMonitor current = NewMonitor();
  for (int i = 0; i < 800; ++i) {
    ref_values.push_back(normal(rng));
    Observe(reference, Numeric("x", ref_values.back()));
  }
  for (int i = 0; i < 600; ++i) {
    cur_values.push_back(normal(rng) + 0.5);
    Observe(current, Numeric("x", cur_values.back()));
  }
  absl::StatusOr<ReferenceProfile> profile =
      ReferenceProfile::Build(reference, {});
  ASSERT_TRUE(profile.ok()) << profile.status();
  const DriftReport report = CompareWithReference(current, *profile);
  ASSERT_EQ(report.features.size(), 1u);
  const FeatureDrift& x = report.features[0];

  const double min = *std::min_element(ref_values.begin(), ref_values.end());
  const double max = *std::max_element(ref_values.begin(), ref_values.end());
  const std::vector<double> edges = Edges(ref_values, 10);
  EXPECT_EQ(profile->features()[0].edges, edges);
  const std::vector<double> ref_bins = Binned(ref_values, min, max, edges);
  const std::vector<double> cur_bins = Binned(cur_values, min, max, edges);
  EXPECT_NEAR(x.psi, Psi(ref_bins, cur_bins), 1e-12);
  EXPECT_NEAR(x.out_of_range_rate, cur_bins.front() + cur_bins.back(), 1e-12);
  ASSERT_TRUE(x.ks.has_value());
  EXPECT_NEAR(x.ks->statistic, KsStatistic(ref_values, cur_values), 1e-12);
  // Asymptotic p-value of that D for these sizes is far below 0.05.
  EXPECT_LT(x.ks->p_value, 1e-6);
  double mean = 0, squares = 0;
  for (double v : ref_values) mean += v;
  mean /= 800;
  for (double v : ref_values) squares += (v - mean) * (v - mean);
  const double stddev = std::sqrt(squares / 800);
  ASSERT_TRUE(x.wasserstein_normed.has_value());
  EXPECT_NEAR(*x.wasserstein_normed,
              Wasserstein(ref_values, cur_values) / stddev, 1e-9);
  // Reference of at most 1,000 values: Evidently's rule tests with KS.
  EXPECT_EQ(x.method, "ks");
  EXPECT_TRUE(x.drifted);
  EXPECT_GT(x.psi, 0.1);
}

// A categorical feature: chi-square goodness of fit of the window's counts
// against the reference's proportions, computed here.
TEST(DriftReportTest, CategoricalChiSquareMatchesDirectFormula) {
  DriftMonitor reference = NewMonitor();
  DriftMonitor current = NewMonitor();
  const std::map<std::string, int> ref_counts = {
      {"a", 500}, {"b", 300}, {"c", 200}};
  const std::map<std::string, int> cur_counts = {
      {"a", 200}, {"b", 200}, {"c", 100}};
  for (const auto& [category, n] : ref_counts) {
    for (int i = 0; i < n; ++i) Observe(reference, Categorical("k", category));
  }
  for (const auto& [category, n] : cur_counts) {
    for (int i = 0; i < n; ++i) Observe(current, Categorical("k", category));
  }
  const ReferenceProfile profile = *ReferenceProfile::Build(reference, {});
  const DriftReport report = CompareWithReference(current, profile);
  ASSERT_EQ(report.features.size(), 1u);
  const FeatureDrift& k = report.features[0];
  double chi2 = 0;
  for (const auto& [category, n] : cur_counts) {
    const double expected = ref_counts.at(category) / 1000.0 * 500;
    chi2 += (n - expected) * (n - expected) / expected;
  }
  ASSERT_TRUE(k.chi_square.has_value());
  EXPECT_NEAR(k.chi_square->statistic, chi2, 1e-9);
  // Two degrees of freedom: the survival function is exp(-x/2).
  EXPECT_NEAR(k.chi_square->p_value, std::exp(-chi2 / 2), 1e-9);
  EXPECT_EQ(k.method, "chi_square");  // 1,000 reference values.
  EXPECT_EQ(k.drifted, std::exp(-chi2 / 2) < 0.05);
  double psi = 0;
  for (const auto& [category, n] : cur_counts) {
    const double r = ref_counts.at(category) / 1000.0;
    const double c = n / 500.0;
    psi += (c - r) * std::log(c / r);
  }
  EXPECT_NEAR(k.psi, psi, 1e-12);
}

// Above 1,000 reference values Evidently's rule measures a distance.
TEST(DriftReportTest, LargeReferenceUsesDistances) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  DriftMonitor reference = NewMonitor();
  DriftMonitor current = NewMonitor();
  for (int i = 0; i < 5000; ++i) Observe(reference, Numeric("x", normal(rng)));
  for (int i = 0; i < 2000; ++i) Observe(current, Numeric("x", normal(rng)));
  const ReferenceProfile profile = *ReferenceProfile::Build(reference, {});
  const FeatureDrift x = CompareWithReference(current, profile).features[0];
  EXPECT_EQ(x.method, "wasserstein");
  EXPECT_FALSE(x.drifted);  // The same distribution.
  EXPECT_LT(x.psi, 0.046);  // Under REFERENTIAL.md's 99th-percentile floor.
}

}  // namespace
}  // namespace vigie::monitors
