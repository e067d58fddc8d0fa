#include "storage/record_codec.h"

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace vigie::storage {
namespace {

// Field 1, wire type 2 (length-delimited).
constexpr char kTag = 0x0a;

// Reads a varint32 at `*pos`, advancing it; empty if malformed.
bool ReadVarint32(absl::string_view in, size_t* pos, uint32_t* value) {
  *value = 0;
  for (int shift = 0; shift <= 28 && *pos < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *value |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Reads a varint64 at `*pos`, advancing it; false if malformed.
bool ReadVarint64(absl::string_view in, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift <= 63 && *pos < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// The record at `offset` and the offset after it.
absl::StatusOr<absl::string_view> Parse(absl::string_view block,
                                        uint32_t offset, size_t* next) {
  size_t pos = offset;
  uint32_t length = 0;
  if (pos >= block.size() || block[pos] != kTag ||
      !ReadVarint32(block, &++pos, &length) || block.size() - pos < length) {
    return absl::DataLossError(absl::StrCat("no record at offset ", offset,
                                            " of a block of ", block.size(),
                                            " bytes"));
  }
  *next = pos + length;
  return block.substr(pos, length);
}

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

void AppendFieldHeader(std::string* message, int field, size_t length) {
  message->push_back(static_cast<char>((field << 3) | 2));
  AppendVarint(message, length);
}

void AppendField(std::string* message, int field, absl::string_view bytes) {
  AppendFieldHeader(message, field, bytes.size());
  message->append(bytes.data(), bytes.size());
}

void AppendVarintField(std::string* message, int field, uint64_t value) {
  message->push_back(static_cast<char>(field << 3));
  AppendVarint(message, value);
}

void AppendRecord(std::string* block, absl::string_view record) {
  AppendField(block, 1, record);
}

absl::StatusOr<absl::string_view> RecordAt(absl::string_view block,
                                           uint32_t offset) {
  size_t next = 0;
  return Parse(block, offset, &next);
}

absl::Status ForEachRecord(
    absl::string_view block,
    const std::function<absl::Status(uint32_t, absl::string_view)>& fn) {
  size_t offset = 0;
  while (offset < block.size()) {
    size_t next = 0;
    absl::StatusOr<absl::string_view> record =
        Parse(block, static_cast<uint32_t>(offset), &next);
    if (!record.ok()) return record.status();
    if (absl::Status status = fn(static_cast<uint32_t>(offset), *record);
        !status.ok()) {
      return status;
    }
    offset = next;
  }
  return absl::OkStatus();
}

bool FieldReader::Next() {
  if (malformed_ || pos_ >= in_.size()) return false;
  uint64_t tag = 0;
  if (!ReadVarint64(in_, &pos_, &tag) || (tag >> 3) == 0 ||
      (tag >> 3) > (uint64_t{1} << 29) - 1) {
    malformed_ = true;
    return false;
  }
  number_ = static_cast<int>(tag >> 3);
  size_t size = 0;
  switch (tag & 7) {
    case kVarint:
      wire_type_ = kVarint;
      bytes_ = {};
      if (!ReadVarint64(in_, &pos_, &varint_)) malformed_ = true;
      return !malformed_;
    case kFixed64:
      wire_type_ = kFixed64;
      size = 8;
      break;
    case kFixed32:
      wire_type_ = kFixed32;
      size = 4;
      break;
    case kLengthDelimited: {
      wire_type_ = kLengthDelimited;
      uint64_t length = 0;
      if (!ReadVarint64(in_, &pos_, &length)) {
        malformed_ = true;
        return false;
      }
      size = length;
      break;
    }
    default:
      malformed_ = true;
      return false;
  }
  if (in_.size() - pos_ < size) {
    malformed_ = true;
    return false;
  }
  varint_ = 0;
  bytes_ = in_.substr(pos_, size);
  pos_ += size;
  return true;
}

}  // namespace vigie::storage
