#include "storage/record_codec.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::storage {
namespace {

using google::protobuf::util::MessageDifferencer;

// Every (offset, record) ForEachRecord yields.
std::vector<std::pair<uint32_t, std::string>> AllRecords(
    absl::string_view block) {
  std::vector<std::pair<uint32_t, std::string>> records;
  const absl::Status status =
      ForEachRecord(block, [&](uint32_t offset, absl::string_view record) {
        records.emplace_back(offset, std::string(record));
        return absl::OkStatus();
      });
  EXPECT_OK(status);
  return records;
}

TEST(RecordCodecTest, RecordsRoundTrip) {
  const std::string small = "abc";
  // 200 bytes: the length no longer fits one varint byte (> 127).
  const std::string large(200, 'x');
  const std::string empty;
  std::string block;
  AppendRecord(&block, small);
  AppendRecord(&block, large);
  AppendRecord(&block, empty);

  // Each record costs a tag byte and its varint length: 1 + 1 + 3, then
  // 1 + 2 + 200, then 1 + 1 + 0.
  const uint32_t small_at = 0;
  const uint32_t large_at = 5;
  const uint32_t empty_at = 5 + 203;
  EXPECT_EQ(block.size(), 5u + 203u + 2u);

  ASSERT_OK_AND_ASSIGN(absl::string_view read, RecordAt(block, small_at));
  EXPECT_EQ(read, small);
  ASSERT_OK_AND_ASSIGN(read, RecordAt(block, large_at));
  EXPECT_EQ(read, large);
  ASSERT_OK_AND_ASSIGN(read, RecordAt(block, empty_at));
  EXPECT_EQ(read, empty);

  const std::vector<std::pair<uint32_t, std::string>> expected = {
      {small_at, small}, {large_at, large}, {empty_at, empty}};
  EXPECT_EQ(AllRecords(block), expected);
}

TEST(RecordCodecTest, EmptyBlockHasNoRecords) {
  EXPECT_TRUE(AllRecords("").empty());
}

TEST(RecordCodecTest, ForEachRecordStopsAtTheFirstError) {
  std::string block;
  AppendRecord(&block, "a");
  AppendRecord(&block, "b");
  int calls = 0;
  const absl::Status status =
      ForEachRecord(block, [&](uint32_t, absl::string_view) {
        ++calls;
        return absl::CancelledError("stop");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

// The reason for the format: a block of PendingEntry records is, byte for
// byte, a serialized PendingBlock, so a stored block is an ordinary
// protobuf message to any reader.
TEST(RecordCodecTest, BlockOfEntriesIsAPendingBlock) {
  state::v1::PendingBlock expected;
  state::v1::PendingEntry* prediction = expected.add_entries();
  prediction->mutable_prediction()->set_model_id("m");
  prediction->mutable_prediction()->set_prediction_id(std::string(150, 'p'));
  prediction->mutable_prediction()->mutable_binary()->set_score(0.75);
  prediction->mutable_arrived()->set_seconds(1'700'000'000);
  state::v1::PendingEntry* outcome = expected.add_entries();
  outcome->mutable_outcome()->set_model_id("m");
  outcome->mutable_outcome()->set_prediction_id("q");
  outcome->mutable_outcome()->set_binary(true);
  outcome->mutable_arrived()->set_seconds(1'700'000'001);
  outcome->mutable_arrived()->set_nanos(500);

  std::string block;
  for (const state::v1::PendingEntry& entry : expected.entries()) {
    AppendRecord(&block, entry.SerializeAsString());
  }
  state::v1::PendingBlock parsed;
  ASSERT_TRUE(parsed.ParseFromString(block));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, expected))
      << parsed.DebugString();

  // And each entry still reads alone from its offset.
  const auto records = AllRecords(block);
  ASSERT_EQ(records.size(), 2u);
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(absl::string_view record,
                         RecordAt(block, records[i].first));
    state::v1::PendingEntry entry;
    ASSERT_TRUE(
        entry.ParseFromArray(record.data(), static_cast<int>(record.size())));
    EXPECT_TRUE(MessageDifferencer::Equals(
        entry, expected.entries(static_cast<int>(i))));
  }
}

TEST(RecordCodecTest, RecordAtAWrongOffsetIsDataLoss) {
  std::string block;
  AppendRecord(&block, "xyz");  // 0x0a 0x03 'x' 'y' 'z'
  // Inside the record's bytes: no tag there.
  EXPECT_EQ(RecordAt(block, 3).status().code(), absl::StatusCode::kDataLoss);
  // At the end of the block, and past it.
  EXPECT_EQ(RecordAt(block, 5).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(RecordAt(block, 1000).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(RecordAt("", 0).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RecordCodecTest, TruncatedBlockIsDataLoss) {
  std::string block;
  AppendRecord(&block, "first");
  AppendRecord(&block, std::string(200, 'y'));
  const auto count = [](absl::string_view bytes) {
    int records = 0;
    const absl::Status status =
        ForEachRecord(bytes, [&](uint32_t, absl::string_view) {
          ++records;
          return absl::OkStatus();
        });
    return std::make_pair(status.code(), records);
  };
  // The second record (at offset 7) loses its last byte: its length says
  // more than is left.
  EXPECT_EQ(count(absl::string_view(block).substr(0, block.size() - 1)),
            std::make_pair(absl::StatusCode::kDataLoss, 1));
  // Cut inside the two-byte length of the second record: bytes 0-6 are the
  // first record, byte 7 the tag, byte 8 the first length byte.
  EXPECT_EQ(count(absl::string_view(block).substr(0, 7 + 2)),
            std::make_pair(absl::StatusCode::kDataLoss, 1));
  // A lone tag.
  EXPECT_EQ(count(absl::string_view(block).substr(0, 1)),
            std::make_pair(absl::StatusCode::kDataLoss, 0));
  // Bytes that are not a record at all.
  EXPECT_EQ(count("garbage"), std::make_pair(absl::StatusCode::kDataLoss, 0));
}

// How a PendingEntry is written without building the message: its outcome
// as field 2, its arrival as field 3.
TEST(RecordCodecTest, AppendFieldBuildsAPendingEntry) {
  vigie::v1::Outcome outcome;
  outcome.set_model_id("m");
  outcome.set_prediction_id("p1");
  outcome.set_regression(2.5);
  google::protobuf::Timestamp arrived;
  arrived.set_seconds(1'700'000'000);
  arrived.set_nanos(250'000'000);

  std::string bytes;
  AppendField(&bytes, 2, outcome.SerializeAsString());
  AppendField(&bytes, 3, arrived.SerializeAsString());

  state::v1::PendingEntry entry;
  ASSERT_TRUE(entry.ParseFromString(bytes));
  ASSERT_TRUE(entry.has_outcome());
  EXPECT_FALSE(entry.has_prediction());
  EXPECT_TRUE(MessageDifferencer::Equals(entry.outcome(), outcome));
  ASSERT_TRUE(entry.has_arrived());
  EXPECT_EQ(entry.arrived().seconds(), 1'700'000'000);
  EXPECT_EQ(entry.arrived().nanos(), 250'000'000);
}

TEST(RecordCodecTest, SizesMatchWhatTheAppendersWrite) {
  for (const uint64_t value :
       {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{16383},
        uint64_t{16384}, uint64_t{1} << 35, ~uint64_t{0}}) {
    std::string varint;
    AppendVarintField(&varint, 1, value);
    EXPECT_EQ(VarintSize(value), varint.size() - 1) << value;  // Less tag.
  }
  for (const size_t length :
       {size_t{0}, size_t{5}, size_t{127}, size_t{128}, size_t{70000}}) {
    std::string field;
    AppendField(&field, 3, std::string(length, 'x'));
    EXPECT_EQ(FieldSize(length), field.size()) << length;
  }
}

}  // namespace
}  // namespace vigie::storage
