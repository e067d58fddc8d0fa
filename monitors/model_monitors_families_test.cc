// ModelMonitors beyond one binary attribute: intersections of attributes,
// multiclass models one class against the rest, and calibration overall and
// per group. Expected values are counted in the test from the events.

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "monitors/model_monitors.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

v1::Prediction Binary(double score,
                      const std::map<std::string, std::string>& groups) {
  v1::Prediction p;
  p.mutable_binary()->set_score(score);
  p.mutable_binary()->set_decision(score >= 0.5);
  for (const auto& [attribute, group] : groups) {
    (*p.mutable_groups())[attribute] = group;
  }
  return p;
}

v1::Outcome Label(bool label) {
  v1::Outcome o;
  o.set_binary(label);
  return o;
}

const GroupRates* Find(const FairnessMetrics& metrics,
                       const std::string& group) {
  for (const GroupRates& g : metrics.groups) {
    if (g.group == group) return &g;
  }
  return nullptr;
}

TEST(ModelMonitorsFamiliesTest, CreateChecksIntersectionsAndClasses) {
  ModelMonitors::Options options;
  options.intersections = {{"race"}};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.intersections = {{"race", "race"}};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.intersections = {{"race", "sex"}, {"race", "sex"}};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.intersections = {{"a&b", "c"}};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.intersections = {{"race", "sex"}, {"race", "sex", "age"}};
  EXPECT_OK(ModelMonitors::Create(options));
  options.classes = {"only"};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.classes = {"a", "b", "a"};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.calibration.num_bins = 1;
  options.classes = {};
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelMonitorsFamiliesTest, IntersectionsGetTheirOwnGroups) {
  ModelMonitors::Options options;
  options.group_attributes = {"race", "sex"};
  options.intersections = {{"race", "sex"}};
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  monitors.ObservePrediction(Binary(0.9, {{"race", "x"}, {"sex", "f"}}));
  monitors.ObservePrediction(Binary(0.1, {{"race", "x"}, {"sex", "m"}}));
  monitors.ObservePrediction(Binary(0.8, {{"race", "x"}, {"sex", "f"}}));
  monitors.ObservePrediction(Binary(0.7, {{"race", "y"}}));  // No sex.
  // Values holding the separator: doubled, so the two never mix.
  monitors.ObservePrediction(Binary(0.9, {{"race", "a&b"}, {"sex", "c"}}));
  monitors.ObservePrediction(Binary(0.2, {{"race", "a"}, {"sex", "b&c"}}));

  const ModelMetrics m = monitors.Snapshot();
  ASSERT_EQ(m.fairness.count("race&sex"), 1u);
  const FairnessMetrics& both = m.fairness.at("race&sex");
  ASSERT_EQ(both.groups.size(), 4u);
  ASSERT_NE(Find(both, "x&f"), nullptr);
  EXPECT_EQ(Find(both, "x&f")->predictions, 2u);
  EXPECT_EQ(Find(both, "x&f")->selected, 2u);
  EXPECT_EQ(Find(both, "x&m")->predictions, 1u);
  EXPECT_EQ(Find(both, "x&m")->selected, 0u);
  EXPECT_EQ(Find(both, "a&&b&c")->selected, 1u);
  EXPECT_EQ(Find(both, "a&b&&c")->selected, 0u);
  // The prediction without sex counts as missing for the intersection too.
  EXPECT_EQ(m.missing.at("sex"), 1u);
  EXPECT_EQ(m.missing.at("race&sex"), 1u);
  EXPECT_EQ(m.fairness.at("race").groups.size(), 4u);  // x, y, a&b, a.
}

TEST(ModelMonitorsFamiliesTest, IntersectionsAlsoWithoutAList) {
  ModelMonitors::Options options;
  options.max_attributes = 1;  // Intersections do not count against it.
  options.intersections = {{"race", "sex"}};
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  monitors.ObservePrediction(Binary(0.9, {{"race", "x"}, {"sex", "f"}}));
  const ModelMetrics m = monitors.Snapshot();
  EXPECT_EQ(m.fairness.size(), 2u);  // "race" (first by name) and the pair.
  EXPECT_EQ(m.fairness.count("race"), 1u);
  EXPECT_EQ(m.fairness.count("race&sex"), 1u);
}

v1::Prediction Multiclass(const std::string& predicted,
                          std::vector<std::pair<std::string, double>> probs,
                          const std::string& group) {
  v1::Prediction p;
  p.mutable_multiclass()->set_predicted_class(predicted);
  for (const auto& [label, probability] : probs) {
    v1::ClassProbability* c = p.mutable_multiclass()->add_probabilities();
    c->set_label(label);
    c->set_probability(probability);
  }
  (*p.mutable_groups())["sex"] = group;
  return p;
}

v1::Outcome ClassLabel(const std::string& label) {
  v1::Outcome o;
  o.set_class_label(label);
  return o;
}

TEST(ModelMonitorsFamiliesTest, MulticlassIsOneClassAgainstTheRest) {
  ModelMonitors::Options options;
  options.group_attributes = {"sex"};
  options.classes = {"low", "mid", "high"};
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  struct Event {
    std::string predicted;
    double confidence;
    std::string actual;
    std::string sex;
  };
  const std::vector<Event> events = {
      {"low", 0.6, "low", "f"},  {"low", 0.7, "mid", "f"},
      {"mid", 0.5, "mid", "m"},  {"high", 0.9, "high", "m"},
      {"high", 0.8, "low", "f"}, {"mid", 0.4, "high", "m"},
  };
  for (const Event& e : events) {
    // The rest of the probability is spread over the other two classes.
    std::vector<std::pair<std::string, double>> probs;
    for (const std::string& c : options.classes) {
      probs.emplace_back(
          c, c == e.predicted ? e.confidence : (1 - e.confidence) / 2);
    }
    const v1::Prediction p = Multiclass(e.predicted, probs, e.sex);
    monitors.ObservePrediction(p);
    monitors.ObserveJoined(p, ClassLabel(e.actual));
  }
  const ModelMetrics m = monitors.Snapshot();
  EXPECT_TRUE(m.fairness.empty());
  ASSERT_EQ(m.fairness_by_class.size(), 3u);
  // Counted here from the table above, class by class and group by group.
  for (const std::string& c : options.classes) {
    for (const char* sex : {"f", "m"}) {
      uint64_t n = 0, selected = 0, tp = 0, fp = 0, tn = 0, fn = 0;
      for (const Event& e : events) {
        if (e.sex != sex) continue;
        const bool d = e.predicted == c;
        const bool y = e.actual == c;
        ++n;
        selected += d ? 1 : 0;
        tp += d && y ? 1 : 0;
        fp += d && !y ? 1 : 0;
        tn += !d && !y ? 1 : 0;
        fn += !d && y ? 1 : 0;
      }
      const GroupRates* g = Find(m.fairness_by_class.at(c).at("sex"), sex);
      ASSERT_NE(g, nullptr) << c << " " << sex;
      EXPECT_EQ(g->predictions, n) << c << " " << sex;
      EXPECT_EQ(g->selected, selected) << c << " " << sex;
      EXPECT_EQ(g->true_positives, tp) << c << " " << sex;
      EXPECT_EQ(g->false_positives, fp) << c << " " << sex;
      EXPECT_EQ(g->true_negatives, tn) << c << " " << sex;
      EXPECT_EQ(g->false_negatives, fn) << c << " " << sex;
    }
  }
  // Top-label calibration: the predicted class's probability against
  // whether it was right. Right: 0.6, 0.5, 0.9; wrong: 0.7, 0.8, 0.4.
  ASSERT_TRUE(m.calibration.has_value());
  EXPECT_EQ(m.calibration->count, 6u);
  EXPECT_EQ(m.calibration->positives, 3u);
  const double brier = ((0.4 * 0.4) + (0.5 * 0.5) + (0.1 * 0.1) + (0.7 * 0.7) +
                        (0.8 * 0.8) + (0.4 * 0.4)) /
                       6;
  ASSERT_TRUE(m.calibration->brier.has_value());
  EXPECT_NEAR(*m.calibration->brier, brier, 1e-12);
  // Round trip, and a binary configuration refuses the state.
  ASSERT_OK_AND_ASSIGN(ModelMonitors copy, ModelMonitors::Deserialize(
                                               monitors.Serialize(), options));
  EXPECT_EQ(copy.Serialize(), monitors.Serialize());
  ModelMonitors::Options binary = options;
  binary.classes.clear();
  EXPECT_EQ(
      ModelMonitors::Deserialize(monitors.Serialize(), binary).status().code(),
      absl::StatusCode::kDataLoss);
  ModelMonitors::Options other_classes = options;
  other_classes.classes = {"low", "mid", "top"};
  EXPECT_EQ(ModelMonitors::Deserialize(monitors.Serialize(), other_classes)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(ModelMonitorsFamiliesTest, CalibrationOverallAndPerGroup) {
  ModelMonitors::Options options;
  options.group_attributes = {"sex"};
  options.calibration.num_bins = 10;
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> uniform(0, 1);
  struct Pair {
    double p;
    bool y;
  };
  std::map<std::string, std::vector<Pair>> by_group;
  for (int i = 0; i < 3000; ++i) {
    const std::string sex = i % 3 == 0 ? "m" : "f";
    const double p = uniform(rng);
    // Group m is calibrated; group f's outcomes lean positive.
    const bool y = uniform(rng) < (sex == "m" ? p : std::min(1.0, p + 0.2));
    const v1::Prediction prediction = Binary(p, {{"sex", sex}});
    monitors.ObservePrediction(prediction);
    monitors.ObserveJoined(prediction, Label(y));
    by_group[sex].push_back({p, y});
  }
  // A prediction without a label is not in the calibration.
  monitors.ObservePrediction(Binary(0.3, {{"sex", "m"}}));

  // The ECE and Brier score recomputed here over equal-width bins.
  const auto expected = [](const std::vector<Pair>& pairs) {
    std::vector<double> n(10), sum_p(10), sum_y(10);
    double brier = 0;
    for (const Pair& pair : pairs) {
      const int b = std::min(9, static_cast<int>(pair.p * 10));
      n[b] += 1;
      sum_p[b] += pair.p;
      sum_y[b] += pair.y ? 1 : 0;
      brier += (pair.p - (pair.y ? 1 : 0)) * (pair.p - (pair.y ? 1 : 0));
    }
    double ece = 0;
    for (int b = 0; b < 10; ++b) {
      if (n[b] > 0) {
        ece +=
            std::abs(sum_y[b] - sum_p[b]) / static_cast<double>(pairs.size());
      }
    }
    return std::pair{ece, brier / static_cast<double>(pairs.size())};
  };
  const ModelMetrics m = monitors.Snapshot();
  std::vector<Pair> all = by_group["m"];
  all.insert(all.end(), by_group["f"].begin(), by_group["f"].end());
  ASSERT_TRUE(m.calibration.has_value());
  EXPECT_EQ(m.calibration->count, 3000u);
  EXPECT_NEAR(*m.calibration->ece, expected(all).first, 1e-9);
  EXPECT_NEAR(*m.calibration->brier, expected(all).second, 1e-9);
  for (const char* sex : {"m", "f"}) {
    const CalibrationMetrics& group = m.calibration_by_group.at("sex").at(sex);
    EXPECT_EQ(group.count, by_group[sex].size());
    EXPECT_NEAR(*group.ece, expected(by_group[sex]).first, 1e-9) << sex;
    EXPECT_NEAR(*group.brier, expected(by_group[sex]).second, 1e-9) << sex;
  }
  // Group f's lean shows; m stays near its noise floor.
  EXPECT_GT(*m.calibration_by_group.at("sex").at("f").ece, 0.1);
  EXPECT_LT(*m.calibration_by_group.at("sex").at("m").ece, 0.06);

  // Split in two and merged: the same counts, sums up to rounding.
  ASSERT_OK_AND_ASSIGN(ModelMonitors first, ModelMonitors::Create(options));
  ModelMonitors second = first;
  int i = 0;
  for (const auto& [sex, pairs] : by_group) {
    for (const Pair& pair : pairs) {
      const v1::Prediction prediction = Binary(pair.p, {{"sex", sex}});
      ModelMonitors& half = (i++ % 2 == 0) ? first : second;
      half.ObserveJoined(prediction, Label(pair.y));
    }
  }
  ASSERT_OK(first.Merge(second));
  const ModelMetrics merged = first.Snapshot();
  EXPECT_EQ(merged.calibration->count, 3000u);
  EXPECT_NEAR(*merged.calibration->ece, *m.calibration->ece, 1e-12);
  EXPECT_NEAR(*merged.calibration->brier, *m.calibration->brier, 1e-12);
  EXPECT_EQ(merged.calibration_by_group.at("sex").at("f").count,
            by_group["f"].size());

  // Round trip; another bin count refuses the state.
  ASSERT_OK_AND_ASSIGN(ModelMonitors copy, ModelMonitors::Deserialize(
                                               monitors.Serialize(), options));
  EXPECT_EQ(copy.Serialize(), monitors.Serialize());
  ModelMonitors::Options other = options;
  other.calibration.num_bins = 15;
  EXPECT_EQ(
      ModelMonitors::Deserialize(monitors.Serialize(), other).status().code(),
      absl::StatusCode::kDataLoss);
}

TEST(ModelMonitorsFamiliesTest, CalibratedGroupsAreBoundedLikeFairnessOnes) {
  ModelMonitors::Options options;
  options.group_attributes = {"segment"};
  options.fairness.max_groups = 3;
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  for (int i = 0; i < 10; ++i) {
    const v1::Prediction p = Binary(0.5, {{"segment", std::to_string(i)}});
    monitors.ObserveJoined(p, Label(true));
  }
  const ModelMetrics metrics = monitors.Snapshot();
  const auto& groups = metrics.calibration_by_group.at("segment");
  ASSERT_EQ(groups.size(), 4u);  // 0, 1, 2 and the overflow.
  EXPECT_EQ(groups.at(std::string(FairnessMonitor::kOverflowGroup)).count, 7u);
}

TEST(ModelMonitorsFamiliesTest, ReferenceGroupsArePerAttributeAndSurviveState) {
  ModelMonitors::Options options;
  options.group_attributes = {"race", "sex"};
  options.reference_groups = {{"race", "b"}};
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  // race a: 3 predictions, 1 selected; race b: 2, 2 selected.
  for (const auto& [race, score] : std::vector<std::pair<std::string, double>>{
           {"a", 0.9}, {"a", 0.1}, {"a", 0.2}, {"b", 0.8}, {"b", 0.7}}) {
    monitors.ObservePrediction(Binary(score, {{"race", race}, {"sex", "f"}}));
  }
  const auto check = [](const ModelMetrics& m) {
    const FairnessGaps& race = m.fairness.at("race").gaps;
    EXPECT_EQ(race.reference_group, "b");  // Configured, though smaller.
    for (const GroupGap& g : race.demographic_parity.by_group) {
      // a: (1/3) / (2/2); b: 1.
      EXPECT_NEAR(*g.ratio_to_reference, g.group == "a" ? 1.0 / 3 : 1.0, 1e-12)
          << g.group;
    }
    // sex is not listed: its largest group.
    EXPECT_EQ(m.fairness.at("sex").gaps.reference_group, "f");
  };
  check(monitors.Snapshot());
  ASSERT_OK_AND_ASSIGN(ModelMonitors copy, ModelMonitors::Deserialize(
                                               monitors.Serialize(), options));
  check(copy.Snapshot());
}

}  // namespace
}  // namespace vigie::monitors
