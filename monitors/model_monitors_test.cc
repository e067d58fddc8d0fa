#include "monitors/model_monitors.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "monitors/fairness.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

v1::Prediction BinaryPrediction(
    bool decision, const std::map<std::string, std::string>& groups) {
  v1::Prediction prediction;
  prediction.set_model_id("m");
  prediction.mutable_binary()->set_score(decision ? 0.9 : 0.1);
  prediction.mutable_binary()->set_decision(decision);
  for (const auto& [attribute, group] : groups) {
    (*prediction.mutable_groups())[attribute] = group;
  }
  return prediction;
}

v1::Outcome BinaryOutcome(bool label) {
  v1::Outcome outcome;
  outcome.set_model_id("m");
  outcome.set_binary(label);
  return outcome;
}

ModelMonitors::Options RaceAndSex() {
  ModelMonitors::Options options;
  options.group_attributes = {"race", "sex"};
  return options;
}

// Counts of one group of one attribute, or nullptr.
const GroupRates* Group(const ModelMetrics& metrics,
                        const std::string& attribute,
                        const std::string& group) {
  auto it = metrics.fairness.find(attribute);
  if (it == metrics.fairness.end()) return nullptr;
  for (const GroupRates& g : it->second.groups) {
    if (g.group == group) return &g;
  }
  return nullptr;
}

TEST(ModelMonitorsTest, CreateChecksOptions) {
  EXPECT_OK(ModelMonitors::Create({}));
  EXPECT_OK(ModelMonitors::Create(RaceAndSex()));
  ModelMonitors::Options options;
  options.max_attributes = 0;
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.max_attributes = 1001;
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = RaceAndSex();
  options.group_attributes.push_back("race");
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = RaceAndSex();
  options.group_attributes.push_back("");
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = RaceAndSex();
  options.fairness.max_groups = 1;
  EXPECT_EQ(ModelMonitors::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelMonitorsTest, EmptyUntilObserved) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  EXPECT_TRUE(monitors.empty());
  const ModelMetrics metrics = monitors.Snapshot();
  EXPECT_TRUE(metrics.fairness.empty());
  EXPECT_TRUE(metrics.missing.empty());
}

TEST(ModelMonitorsTest, RoutesEachListedAttributeToItsMonitor) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  const v1::Prediction p1 =
      BinaryPrediction(true, {{"race", "x"}, {"sex", "f"}, {"age", "30s"}});
  const v1::Prediction p2 =
      BinaryPrediction(false, {{"race", "y"}, {"sex", "f"}});
  monitors.ObservePrediction(p1);
  monitors.ObservePrediction(p2);
  monitors.ObserveJoined(p1, BinaryOutcome(false));
  EXPECT_FALSE(monitors.empty());

  const ModelMetrics m = monitors.Snapshot();
  ASSERT_EQ(m.fairness.size(), 2u);  // "age" is not listed.
  EXPECT_EQ(m.fairness.count("age"), 0u);
  const GroupRates* x = Group(m, "race", "x");
  const GroupRates* y = Group(m, "race", "y");
  const GroupRates* f = Group(m, "sex", "f");
  ASSERT_NE(x, nullptr);
  ASSERT_NE(y, nullptr);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(x->predictions, 1u);
  EXPECT_EQ(x->selected, 1u);
  EXPECT_EQ(x->false_positives, 1u);
  EXPECT_EQ(y->predictions, 1u);
  EXPECT_EQ(y->selected, 0u);
  EXPECT_EQ(y->labeled(), 0u);
  EXPECT_EQ(f->predictions, 2u);
  EXPECT_EQ(f->selected, 1u);
  EXPECT_EQ(f->false_positives, 1u);
  EXPECT_TRUE(m.missing.empty());
}

TEST(ModelMonitorsTest, CountsMissingAttributesOnPredictionsOnly) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  const v1::Prediction no_sex = BinaryPrediction(true, {{"race", "x"}});
  const v1::Prediction empty_sex =
      BinaryPrediction(true, {{"race", "x"}, {"sex", ""}});
  const v1::Prediction none = BinaryPrediction(false, {});
  monitors.ObservePrediction(no_sex);
  monitors.ObservePrediction(empty_sex);
  monitors.ObservePrediction(none);
  monitors.ObserveJoined(no_sex, BinaryOutcome(true));
  monitors.ObserveJoined(none, BinaryOutcome(true));

  const ModelMetrics m = monitors.Snapshot();
  EXPECT_EQ(m.missing.at("sex"), 3u);
  EXPECT_EQ(m.missing.at("race"), 1u);
  EXPECT_EQ(m.fairness.count("sex"), 0u);
  const GroupRates* x = Group(m, "race", "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->predictions, 2u);
  EXPECT_EQ(x->true_positives, 1u);
}

TEST(ModelMonitorsTest, IgnoresEventsThatAreNotBinaryDecisions) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  v1::Prediction regression;
  regression.mutable_regression()->set_value(3);
  (*regression.mutable_groups())["race"] = "x";
  v1::Prediction score_only;
  score_only.mutable_binary()->set_score(0.7);
  (*score_only.mutable_groups())["race"] = "x";
  v1::Outcome regression_outcome;
  regression_outcome.set_regression(2);

  monitors.ObservePrediction(regression);
  monitors.ObservePrediction(score_only);
  monitors.ObserveJoined(regression, BinaryOutcome(true));
  monitors.ObserveJoined(score_only, BinaryOutcome(true));
  monitors.ObserveJoined(BinaryPrediction(true, {{"race", "x"}}),
                         regression_outcome);
  monitors.ObserveJoined(BinaryPrediction(true, {{"race", "x"}}),
                         v1::Outcome());  // No label at all.
  const ModelMetrics metrics = monitors.Snapshot();
  EXPECT_TRUE(metrics.fairness.empty());
  EXPECT_FALSE(metrics.calibration.has_value());
  EXPECT_TRUE(metrics.missing.empty());
  // The drift monitor sees every prediction, whatever its output, and
  // every label: the regression value, and the two binary labels.
  EXPECT_EQ(monitors.drift().predictions(), 2u);
  EXPECT_EQ(monitors.drift().labels(), 3u);
  EXPECT_FALSE(monitors.empty());
}

TEST(ModelMonitorsTest, WithoutAListMonitorsAttributesUpToMax) {
  ModelMonitors::Options options;
  options.max_attributes = 2;
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  // Three new attributes at once: the first two by name are kept.
  monitors.ObservePrediction(
      BinaryPrediction(true, {{"c", "1"}, {"a", "1"}, {"b", "1"}}));
  monitors.ObservePrediction(BinaryPrediction(true, {{"d", "1"}}));
  monitors.ObservePrediction(BinaryPrediction(false, {{"b", "2"}}));
  const ModelMetrics m = monitors.Snapshot();
  ASSERT_EQ(m.fairness.size(), 2u);
  EXPECT_EQ(m.fairness.count("a"), 1u);
  EXPECT_EQ(m.fairness.count("b"), 1u);
  EXPECT_EQ(m.fairness.at("b").groups.size(), 2u);
  EXPECT_TRUE(m.missing.empty());  // Nothing is listed, so nothing missing.
}

// A deterministic mix of predictions, some joined with outcomes.
struct Joined {
  v1::Prediction prediction;
  bool joined;
  bool label;
};
std::vector<Joined> RandomStream(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<Joined> events;
  for (int i = 0; i < n; ++i) {
    const uint64_t r = rng();
    std::map<std::string, std::string> groups;
    if (r % 7 != 0)
      groups["race"] = std::string(1, static_cast<char>('a' + r % 3));
    if ((r >> 4) % 5 != 0) groups["sex"] = (r >> 8) % 2 ? "f" : "m";
    events.push_back({BinaryPrediction((r >> 12) % 3 == 0, groups),
                      (r >> 16) % 4 != 0, (r >> 20) % 2 == 0});
  }
  return events;
}

void Observe(ModelMonitors& monitors, const Joined& e) {
  monitors.ObservePrediction(e.prediction);
  if (e.joined) monitors.ObserveJoined(e.prediction, BinaryOutcome(e.label));
}

void ExpectSameCounts(const ModelMetrics& a, const ModelMetrics& b) {
  EXPECT_EQ(a.missing, b.missing);
  ASSERT_EQ(a.fairness.size(), b.fairness.size());
  for (const auto& [attribute, fa] : a.fairness) {
    const FairnessMetrics& fb = b.fairness.at(attribute);
    ASSERT_EQ(fa.groups.size(), fb.groups.size());
    for (size_t i = 0; i < fa.groups.size(); ++i) {
      EXPECT_EQ(fa.groups[i].group, fb.groups[i].group);
      EXPECT_EQ(fa.groups[i].predictions, fb.groups[i].predictions);
      EXPECT_EQ(fa.groups[i].selected, fb.groups[i].selected);
      EXPECT_EQ(fa.groups[i].true_positives, fb.groups[i].true_positives);
      EXPECT_EQ(fa.groups[i].false_positives, fb.groups[i].false_positives);
      EXPECT_EQ(fa.groups[i].true_negatives, fb.groups[i].true_negatives);
      EXPECT_EQ(fa.groups[i].false_negatives, fb.groups[i].false_negatives);
    }
    EXPECT_EQ(fa.gaps.equalized_odds_difference.value,
              fb.gaps.equalized_odds_difference.value);
  }
}

TEST(ModelMonitorsTest, MergeOfSplitStreamEqualsWholeStream) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors whole,
                       ModelMonitors::Create(RaceAndSex()));
  ModelMonitors first = whole;
  ModelMonitors second = whole;
  std::mt19937_64 split(3);
  for (const Joined& e : RandomStream(/*seed=*/21, /*n=*/5000)) {
    Observe(whole, e);
    Observe(split() % 3 == 0 ? first : second, e);
  }
  ASSERT_OK(first.Merge(second));
  ExpectSameCounts(first.Snapshot(), whole.Snapshot());
}

TEST(ModelMonitorsTest, MergeWithEmptyIsIdentity) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors empty,
                       ModelMonitors::Create(RaceAndSex()));
  ModelMonitors full = empty;
  for (const Joined& e : RandomStream(/*seed=*/4, /*n=*/300)) Observe(full, e);
  const std::string before = full.Serialize();
  ASSERT_OK(full.Merge(empty));
  EXPECT_EQ(full.Serialize(), before);
  ModelMonitors other = empty;
  ASSERT_OK(other.Merge(full));
  EXPECT_EQ(other.Serialize(), before);
}

TEST(ModelMonitorsTest, MergeWithOtherOptionsFailsAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  ModelMonitors::Options other_options = RaceAndSex();
  other_options.fairness.min_group_size = 30;
  ASSERT_OK_AND_ASSIGN(ModelMonitors other,
                       ModelMonitors::Create(other_options));
  for (const Joined& e : RandomStream(/*seed=*/5, /*n=*/100)) {
    Observe(monitors, e);
    Observe(other, e);
  }
  const std::string before = monitors.Serialize();
  EXPECT_EQ(monitors.Merge(other).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(monitors.Serialize(), before);
}

TEST(ModelMonitorsTest, SerializeRoundTrip) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  for (const Joined& e : RandomStream(/*seed=*/6, /*n=*/400)) {
    Observe(monitors, e);
  }
  const std::string bytes = monitors.Serialize();
  state::v1::PaneState state;
  ASSERT_TRUE(state.ParseFromString(bytes));
  EXPECT_EQ(state.version(), 1u);
  EXPECT_EQ(state.fairness_by_attribute_size(), 2);
  ASSERT_OK_AND_ASSIGN(ModelMonitors copy,
                       ModelMonitors::Deserialize(bytes, RaceAndSex()));
  ExpectSameCounts(copy.Snapshot(), monitors.Snapshot());
  EXPECT_EQ(copy.Serialize(), bytes);
  ASSERT_OK_AND_ASSIGN(
      ModelMonitors empty,
      ModelMonitors::Deserialize(
          ModelMonitors::Create(RaceAndSex())->Serialize(), RaceAndSex()));
  EXPECT_TRUE(empty.empty());
}

TEST(ModelMonitorsTest, DeserializeUnderOtherOptionsIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  for (const Joined& e : RandomStream(/*seed=*/8, /*n=*/50)) {
    Observe(monitors, e);
  }
  const std::string bytes = monitors.Serialize();

  ModelMonitors::Options other_fairness = RaceAndSex();
  other_fairness.fairness.max_groups = 50;
  const absl::Status status =
      ModelMonitors::Deserialize(bytes, other_fairness).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("another configuration"),
            absl::string_view::npos)
      << status;

  ModelMonitors::Options race_only;
  race_only.group_attributes = {"race"};
  EXPECT_EQ(ModelMonitors::Deserialize(bytes, race_only).status().code(),
            absl::StatusCode::kDataLoss);

  ModelMonitors::Options bad;
  bad.max_attributes = 0;
  EXPECT_EQ(ModelMonitors::Deserialize(bytes, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModelMonitorsTest, CorruptBytesAreDataLoss) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors,
                       ModelMonitors::Create(RaceAndSex()));
  for (const Joined& e : RandomStream(/*seed=*/10, /*n=*/100)) {
    Observe(monitors, e);
  }
  const std::string bytes = monitors.Serialize();
  for (size_t length = 0; length < bytes.size(); ++length) {
    absl::StatusOr<ModelMonitors> got =
        ModelMonitors::Deserialize(bytes.substr(0, length), RaceAndSex());
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << length;
    } else {
      got->Snapshot();
    }
  }
  std::mt19937_64 rng(99);
  for (int i = 0; i < 1000; ++i) {
    std::string garbage(rng() % 80, '\0');
    for (char& c : garbage) c = static_cast<char>(rng() & 0xff);
    absl::StatusOr<ModelMonitors> got =
        ModelMonitors::Deserialize(garbage, RaceAndSex());
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << i;
    }
  }
  state::v1::PaneState state;
  state.set_version(2);
  EXPECT_EQ(ModelMonitors::Deserialize(state.SerializeAsString(), RaceAndSex())
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vigie::monitors
