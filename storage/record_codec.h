#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Blocks of records that are also protobuf messages: each record is written
// as field 1 of a message (tag, varint length, bytes), so a block of
// PendingEntry records is a serialized PendingBlock and one of JoinMark
// records a JoinMarkBlock, and a record can still be read alone from its
// offset, without decoding the block.

namespace vigie::storage {

// Appends `bytes` to `message` as its length-delimited field `field` (1 to
// 15).
void AppendField(std::string* message, int field, absl::string_view bytes);
// Appends the tag and length of a length-delimited field `field` (1 to 15)
// whose `length` bytes the caller appends next.
void AppendFieldHeader(std::string* message, int field, size_t length);
// Appends `value` to `message` as its varint field `field` (1 to 15).
void AppendVarintField(std::string* message, int field, uint64_t value);
// Bytes of `value` as a varint.
size_t VarintSize(uint64_t value);
// Bytes of a length-delimited field `field` (1 to 15) of `length` bytes:
// its tag, its length and the bytes.
size_t FieldSize(size_t length);
// Appends `record` to `block` as field 1.
void AppendRecord(std::string* block, absl::string_view record);

// The record at byte `offset` of `block`. kDataLoss if no record starts
// there.
absl::StatusOr<absl::string_view> RecordAt(absl::string_view block,
                                           uint32_t offset);

// Calls `fn(offset, record)` for each record of `block` in order; stops at
// the first error `fn` returns. kDataLoss if `block` is not a sequence of
// records.
absl::Status ForEachRecord(absl::string_view block,
                           const std::function<absl::Status(
                               uint32_t offset, absl::string_view record)>& fn);

}  // namespace vigie::storage
