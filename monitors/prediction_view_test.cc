#include "monitors/prediction_view.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tests/testutil/hostile_bytes.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

// Protobuf's wire format written by hand, so that the tests can give fields
// twice, out of order, of the wrong wire type or mixed across a oneof:
// things the serializer never writes but a client may send.
void Varint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}
void Tag(std::string* out, int number, int wire_type) {
  Varint(out, (static_cast<uint64_t>(number) << 3) | wire_type);
}
void Bytes(std::string* out, int number, const std::string& bytes) {
  Tag(out, number, 2);
  Varint(out, bytes.size());
  out->append(bytes);
}
void VarintField(std::string* out, int number, uint64_t value) {
  Tag(out, number, 0);
  Varint(out, value);
}
void Double(std::string* out, int number, double value) {
  Tag(out, number, 1);
  char raw[8];
  std::memcpy(raw, &value, sizeof(raw));
  out->append(raw, sizeof(raw));
}

void ExpectSame(const PredictionView& got, const PredictionView& want) {
  EXPECT_EQ(got.event_time, want.event_time);
  EXPECT_EQ(got.output, want.output);
  EXPECT_EQ(got.decision, want.decision);
  EXPECT_EQ(got.score, want.score);
  EXPECT_EQ(got.predicted_class, want.predicted_class);
  EXPECT_EQ(got.predicted_probability, want.predicted_probability);
  EXPECT_EQ(got.regression_value, want.regression_value);
  EXPECT_EQ(got.interval_lower, want.interval_lower);
  EXPECT_EQ(got.interval_upper, want.interval_upper);
  EXPECT_EQ(got.alpha, want.alpha);
  EXPECT_EQ(got.calibration_size, want.calibration_size);
  EXPECT_EQ(got.prediction_set, want.prediction_set);
  EXPECT_EQ(got.items, want.items);
  EXPECT_EQ(got.user_id, want.user_id);
  EXPECT_EQ(got.energy_joules, want.energy_joules);
  EXPECT_EQ(got.latency_seconds, want.latency_seconds);
  EXPECT_EQ(got.hardware_class, want.hardware_class);
  ASSERT_EQ(got.groups.size(), want.groups.size());
  for (size_t i = 0; i < got.groups.size(); ++i) {
    EXPECT_EQ(got.groups[i], want.groups[i]) << i;
  }
  ASSERT_EQ(got.features.size(), want.features.size());
  for (size_t i = 0; i < got.features.size(); ++i) {
    EXPECT_EQ(got.features[i].first, want.features[i].first) << i;
    EXPECT_EQ(got.features[i].second.kind, want.features[i].second.kind) << i;
    EXPECT_EQ(got.features[i].second.numeric, want.features[i].second.numeric)
        << i;
    EXPECT_EQ(got.features[i].second.categorical,
              want.features[i].second.categorical)
        << i;
  }
}

TEST(PredictionViewTest, OfReadsAPredictionsFields) {
  vigie::v1::Prediction prediction;
  prediction.mutable_event_time()->set_seconds(1'700'000'000);
  prediction.mutable_event_time()->set_nanos(250'000'000);
  prediction.mutable_binary()->set_decision(true);
  prediction.mutable_binary()->set_score(0.75);
  (*prediction.mutable_groups())["sex"] = "F";
  (*prediction.mutable_groups())["race"] = "Asian";
  const PredictionView view = PredictionView::Of(prediction);
  EXPECT_EQ(view.event_time,
            absl::FromUnixSeconds(1'700'000'000) + absl::Milliseconds(250));
  EXPECT_EQ(view.output, PredictionView::Output::kBinary);
  EXPECT_EQ(view.decision, true);
  EXPECT_EQ(view.score, 0.75);
  ASSERT_EQ(view.groups.size(), 2u);
  EXPECT_EQ(view.groups[0].first, "race");  // Sorted by name.
  EXPECT_EQ(view.groups[1].first, "sex");
  ASSERT_NE(view.Group("sex"), nullptr);
  EXPECT_EQ(*view.Group("sex"), "F");
  EXPECT_EQ(view.Group("age"), nullptr);
  EXPECT_EQ(view.Group("rac"), nullptr);
}

TEST(PredictionViewTest, DecodeKeepsTheLastOfARepeatedAttribute) {
  std::string bytes;
  std::string entry;
  Bytes(&entry, 1, "sex");
  Bytes(&entry, 2, "F");
  Bytes(&bytes, 9, entry);
  entry.clear();
  Bytes(&entry, 1, "sex");
  Bytes(&entry, 2, "M");
  Bytes(&bytes, 9, entry);
  const absl::StatusOr<PredictionView> view = PredictionView::Decode(bytes);
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->groups.size(), 1u);
  EXPECT_EQ(*view->Group("sex"), "M");
}

TEST(PredictionViewTest, DecodeFollowsAOneofSwitch) {
  // Binary, then multiclass, then binary again: protobuf keeps only the
  // last member, and the first binary's fields are gone with it.
  std::string binary;
  Double(&binary, 1, 0.9);
  std::string multiclass;
  Bytes(&multiclass, 2, "cat");
  std::string decision;
  VarintField(&decision, 2, 1);
  std::string bytes;
  Bytes(&bytes, 5, binary);
  Bytes(&bytes, 7, multiclass);
  Bytes(&bytes, 5, decision);
  const absl::StatusOr<PredictionView> view = PredictionView::Decode(bytes);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->output, PredictionView::Output::kBinary);
  EXPECT_EQ(view->decision, true);
  EXPECT_EQ(view->score, std::nullopt);
  EXPECT_EQ(view->predicted_class, "");
}

// Random sequences of fields, each drawn among those a client may send
// (valid or odd), decoded by hand and by protobuf: the views must agree.
TEST(PredictionViewTest, DecodeAgreesWithProtobufOnRandomWireBytes) {
  std::mt19937_64 rng(7);
  // Names sharing their first 8 bytes, longer and shorter than 8, with a
  // NUL byte and bytes above 0x7f (UTF-8): the sort's integer keys tie or order
  // them.
  const std::vector<std::string> names = {"sex",
                                          "race",
                                          "age",
                                          "",
                                          "region",
                                          "region_north_1",
                                          "region_north_2",
                                          "region_n",
                                          std::string("a\0b", 3),
                                          "a",
                                          "\xc3\xa9t\xc3\xa9"};
  const std::vector<std::string> labels = {"a", "b", "c", ""};
  auto pick = [&](const std::vector<std::string>& from) {
    return from[rng() % from.size()];
  };
  int multiclass_seen = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes;
    const int fields = static_cast<int>(rng() % 10);
    for (int f = 0; f < fields; ++f) {
      std::string inner;
      switch (rng() % 14) {
        case 0:
          Bytes(&bytes, 1, "credit");
          break;
        case 10:
        case 11: {
          // A features entry: a name, and a value that may be numeric,
          // categorical, both (the last wins), empty or given twice.
          if (rng() % 6) Bytes(&inner, 1, pick(names));
          const int values = static_cast<int>(rng() % 3);
          for (int v = 0; v < values; ++v) {
            std::string value;
            if (rng() % 2) Double(&value, 1, static_cast<double>(rng() % 7));
            if (rng() % 2) Bytes(&value, 2, pick(labels));
            if (rng() % 3 == 0) {
              Double(&value, 1, -static_cast<double>(rng() % 5));
            }
            Bytes(&inner, 2, value);
          }
          Bytes(&bytes, 10, inner);
          break;
        }
        case 12:
          // A regression, with parts of a conformal interval.
          if (rng() % 3) Double(&inner, 1, static_cast<double>(rng() % 9));
          if (rng() % 3 == 0) Double(&inner, 2, 1.5);
          if (rng() % 3 == 0) Double(&inner, 3, 4.5);
          if (rng() % 3 == 0) Double(&inner, 4, 0.1);
          if (rng() % 3 == 0) VarintField(&inner, 5, rng() % 5000);
          Bytes(&bytes, 6, inner);
          break;
        case 1:
          if (rng() % 2) VarintField(&inner, 1, rng() % 2'000'000'000);
          if (rng() % 2) VarintField(&inner, 2, rng() % 999'999'999);
          Bytes(&bytes, 4, inner);
          break;
        case 2:
          if (rng() % 2)
            Double(&inner, 1, static_cast<double>(rng() % 101) / 100);
          if (rng() % 2) VarintField(&inner, 2, rng() % 3);
          if (rng() % 4 == 0) VarintField(&inner, 1, 5);  // Wrong wire type.
          Bytes(&bytes, 5, inner);
          break;
        case 3:
        case 4: {
          const int n = static_cast<int>(rng() % 4);
          for (int i = 0; i < n; ++i) {
            std::string p;
            if (rng() % 4) Bytes(&p, 1, pick(labels));
            if (rng() % 4) Double(&p, 2, static_cast<double>(rng() % 11) / 10);
            Bytes(&inner, 1, p);
          }
          if (rng() % 3) Bytes(&inner, 2, pick(labels));
          // A conformal prediction set.
          const int set = static_cast<int>(rng() % 3);
          for (int i = 0; i < set; ++i) Bytes(&inner, 3, pick(labels));
          if (rng() % 3 == 0) Double(&inner, 4, 0.05);
          if (rng() % 3 == 0) VarintField(&inner, 5, 1 + rng() % 999);
          Bytes(&bytes, 7, inner);
          break;
        }
        case 5: {
          // A recommendation list, or an empty regression.
          if (rng() % 2) {
            Bytes(&bytes, 6, "");
            break;
          }
          const int items = static_cast<int>(rng() % 4);
          for (int i = 0; i < items; ++i) Bytes(&inner, 1, pick(labels));
          if (rng() % 2) Bytes(&inner, 2, pick(names));
          if (rng() % 3 == 0) Bytes(&inner, 3, "request");
          Bytes(&bytes, 8, inner);
          break;
        }
        case 6:
        case 7:
        case 8:
          if (rng() % 6) Bytes(&inner, 1, pick(names));
          if (rng() % 6) Bytes(&inner, 2, pick(labels));
          Bytes(&bytes, 9, inner);
          break;
        case 13:
          // The cost: energy, latency, hardware class, each maybe twice,
          // and a latency of the wrong wire type (an unknown field).
          if (rng() % 2) Double(&bytes, 11, static_cast<double>(rng() % 9));
          if (rng() % 2) Double(&bytes, 12, static_cast<double>(rng() % 5));
          if (rng() % 2) Bytes(&bytes, 13, pick(labels));
          if (rng() % 4 == 0) VarintField(&bytes, 12, rng());
          break;
        default:
          VarintField(&bytes, 99, rng());  // Unknown to the schema.
          break;
      }
    }
    vigie::v1::Prediction parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes)) << round;
    if (parsed.has_multiclass()) ++multiclass_seen;
    const absl::StatusOr<PredictionView> decoded =
        PredictionView::Decode(bytes);
    ASSERT_TRUE(decoded.ok()) << round << ": " << decoded.status();
    SCOPED_TRACE(round);
    ExpectSame(*decoded, PredictionView::Of(parsed));
  }
  EXPECT_GT(multiclass_seen, 300);  // The generator reaches every case.
}

// Events of many features, shuffled, some given twice: past the insertion
// sort's 64, the stable sort takes over; both must give what protobuf does.
TEST(PredictionViewTest, DecodeSortsManyFeaturesAsProtobufDoes) {
  std::mt19937_64 rng(13);
  for (int features : {5, 63, 64, 65, 200}) {
    for (int round = 0; round < 20; ++round) {
      std::string bytes;
      for (int f = 0; f < features; ++f) {
        std::string value;
        Double(&value, 1, static_cast<double>(rng() % 1000));
        std::string entry;
        Bytes(&entry, 1, absl::StrCat("f", rng() % (features * 3 / 4 + 1)));
        Bytes(&entry, 2, value);
        Bytes(&bytes, 10, entry);
      }
      vigie::v1::Prediction parsed;
      ASSERT_TRUE(parsed.ParseFromString(bytes));
      const absl::StatusOr<PredictionView> decoded =
          PredictionView::Decode(bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      SCOPED_TRACE(absl::StrCat(features, " features, round ", round));
      ExpectSame(*decoded, PredictionView::Of(parsed));
    }
  }
}

TEST(PredictionViewTest, DecodeRejectsMalformedBytesWithoutCrashing) {
  vigie::v1::Prediction prediction;
  prediction.set_model_id("credit");
  prediction.mutable_event_time()->set_seconds(1'700'000'000);
  prediction.mutable_binary()->set_decision(true);
  (*prediction.mutable_groups())["sex"] = "F";
  const std::string bytes = prediction.SerializeAsString();
  // Cut short: every strict prefix ends inside a field.
  for (size_t n = 1; n < bytes.size(); ++n) {
    const absl::StatusOr<PredictionView> view =
        PredictionView::Decode(absl::string_view(bytes).substr(0, n));
    vigie::v1::Prediction parsed;
    if (parsed.ParseFromString(bytes.substr(0, n))) continue;
    EXPECT_FALSE(view.ok()) << n;
    EXPECT_EQ(view.status().code(), absl::StatusCode::kDataLoss) << n;
  }
  // Flipped bits and garbage: never a crash, and wherever protobuf parses
  // the bytes, the same view. (Protobuf logs each invalid UTF-8 string.)
  const google::protobuf::LogSilencer silence;
  std::vector<std::string> hostile = testutil::EachBitFlipped(bytes);
  for (std::string& random : testutil::RandomByteStrings(11, 2000, 64)) {
    hostile.push_back(std::move(random));
  }
  int parsed_count = 0;
  for (const std::string& input : hostile) {
    const absl::StatusOr<PredictionView> view = PredictionView::Decode(input);
    vigie::v1::Prediction parsed;
    if (!parsed.ParseFromString(input)) continue;
    ++parsed_count;
    ASSERT_TRUE(view.ok()) << view.status();
    ExpectSame(*view, PredictionView::Of(parsed));
  }
  EXPECT_GT(parsed_count, 50);
}

}  // namespace
TEST(PredictionViewTest, OfAndDecodeReadTheCost) {
  vigie::v1::Prediction prediction;
  prediction.mutable_binary()->set_score(0.5);
  prediction.set_energy_joules(12.5);
  prediction.set_latency_seconds(0.04);
  prediction.set_hardware_class("gpu-a100");
  const PredictionView of = PredictionView::Of(prediction);
  EXPECT_EQ(of.energy_joules, 12.5);
  EXPECT_EQ(of.latency_seconds, 0.04);
  EXPECT_EQ(of.hardware_class, "gpu-a100");
  const std::string bytes = prediction.SerializeAsString();
  const absl::StatusOr<PredictionView> decoded = PredictionView::Decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, of);
  // Absent costs stay absent; an explicit zero is a cost of zero.
  vigie::v1::Prediction free;
  free.set_energy_joules(0);
  const PredictionView zero = PredictionView::Of(free);
  EXPECT_EQ(zero.energy_joules, 0.0);
  EXPECT_EQ(zero.latency_seconds, std::nullopt);
  EXPECT_EQ(PredictionView::Decode(free.SerializeAsString())->energy_joules,
            0.0);
}

}  // namespace vigie::monitors
