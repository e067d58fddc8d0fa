#include "common/field_reader.h"

#include <cstring>

namespace vigie {

bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift <= 63 && *pos < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool FieldReader::Next() {
  if (malformed_ || pos_ >= in_.size()) return false;
  uint64_t tag = 0;
  if (!ReadVarint(in_, &pos_, &tag) || (tag >> 3) == 0 ||
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
      if (!ReadVarint(in_, &pos_, &varint_)) malformed_ = true;
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
      if (!ReadVarint(in_, &pos_, &length)) {
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

double FieldReader::fixed64_double() const {
  // Little-endian on the wire as in memory on every target Vigie builds
  // for (x86-64, AArch64).
  double value = 0;
  if (bytes_.size() == sizeof(value)) {
    std::memcpy(&value, bytes_.data(), sizeof(value));
  }
  return value;
}

}  // namespace vigie
