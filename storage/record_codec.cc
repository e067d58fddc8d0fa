#include "storage/record_codec.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "common/field_reader.h"

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

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

size_t FieldSize(size_t length) { return 1 + VarintSize(length) + length; }

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

}  // namespace vigie::storage
