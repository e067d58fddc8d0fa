#include "common/field_reader.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "vigie/v1/events.pb.h"

namespace vigie {
namespace {

TEST(FieldReaderTest, WalksTheFieldsProtobufWrote) {
  vigie::v1::Prediction prediction;
  prediction.set_model_id("credit");
  prediction.set_prediction_id("p-42");
  prediction.mutable_event_time()->set_seconds(1700000000);
  prediction.mutable_binary()->set_score(0.25);  // A fixed64 inside field 5.
  (*prediction.mutable_groups())["sex"] = "F";
  const std::string bytes = prediction.SerializeAsString();

  // Protobuf writes fields in number order; the reader sees each once, with
  // the wire type of its declaration.
  std::vector<std::pair<int, FieldReader::WireType>> seen;
  FieldReader reader(bytes);
  while (reader.Next()) {
    seen.emplace_back(reader.number(), reader.wire_type());
    if (reader.number() == 1) {
      EXPECT_EQ(reader.bytes(), "credit");
    }
    if (reader.number() == 3) {
      EXPECT_EQ(reader.bytes(), "p-42");
    }
    if (reader.number() == 4) {
      FieldReader time(reader.bytes());
      ASSERT_TRUE(time.Next());
      EXPECT_EQ(time.number(), 1);
      EXPECT_EQ(time.wire_type(), FieldReader::kVarint);
      EXPECT_EQ(time.varint(), 1700000000u);
      EXPECT_FALSE(time.Next());
      EXPECT_FALSE(time.malformed());
    }
    if (reader.number() == 5) {
      FieldReader binary(reader.bytes());
      ASSERT_TRUE(binary.Next());
      EXPECT_EQ(binary.wire_type(), FieldReader::kFixed64);
      double score = 0;
      ASSERT_EQ(binary.bytes().size(), sizeof(score));
      std::memcpy(&score, binary.bytes().data(), sizeof(score));
      EXPECT_EQ(score, 0.25);
    }
  }
  EXPECT_FALSE(reader.malformed());
  EXPECT_EQ(seen, (std::vector<std::pair<int, FieldReader::WireType>>{
                      {1, FieldReader::kLengthDelimited},
                      {3, FieldReader::kLengthDelimited},
                      {4, FieldReader::kLengthDelimited},
                      {5, FieldReader::kLengthDelimited},
                      {9, FieldReader::kLengthDelimited}}));
}

TEST(FieldReaderTest, StopsAtBytesThatAreNotFields) {
  vigie::v1::Prediction prediction;
  prediction.set_model_id("credit");
  prediction.set_prediction_id("p-42");
  const std::string bytes = prediction.SerializeAsString();
  // Cut inside the second field: the first still reads, then it stops.
  FieldReader cut(absl::string_view(bytes).substr(0, bytes.size() - 2));
  ASSERT_TRUE(cut.Next());
  EXPECT_EQ(cut.bytes(), "credit");
  EXPECT_FALSE(cut.Next());
  EXPECT_TRUE(cut.malformed());
  // Field number 0, a group (wire type 3) and an unterminated varint.
  for (const std::string& bad :
       {std::string("\x00\x01", 2), std::string("\x0b"),
        std::string("\x08\xff")}) {
    FieldReader reader(bad);
    EXPECT_FALSE(reader.Next());
    EXPECT_TRUE(reader.malformed());
  }
  FieldReader empty("");
  EXPECT_FALSE(empty.Next());
  EXPECT_FALSE(empty.malformed());
}

TEST(FieldReaderTest, ReadsTheDoubleOfAFixed64) {
  vigie::v1::BinaryPrediction binary;
  binary.set_score(0.1);
  const std::string bytes = binary.SerializeAsString();
  FieldReader reader(bytes);
  ASSERT_TRUE(reader.Next());
  ASSERT_EQ(reader.wire_type(), FieldReader::kFixed64);
  EXPECT_EQ(reader.fixed64_double(), 0.1);
}

TEST(FieldReaderTest, ReadVarintStopsAtTruncatedOrOverlongVarints) {
  size_t pos = 0;
  uint64_t value = 0;
  ASSERT_TRUE(ReadVarint(std::string("\xac\x02", 2), &pos, &value));
  EXPECT_EQ(value, 300u);
  EXPECT_EQ(pos, 2u);
  pos = 0;
  EXPECT_FALSE(ReadVarint(std::string("\xac", 1), &pos, &value));
  pos = 0;
  EXPECT_FALSE(ReadVarint(std::string(11, '\xff'), &pos, &value));
}

}  // namespace
}  // namespace vigie
