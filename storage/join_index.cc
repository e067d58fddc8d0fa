#include "storage/join_index.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>

#include "absl/hash/hash.h"

namespace vigie::storage {

IdKey IdKey::Of(absl::string_view model_id, absl::string_view prediction_id) {
  // The tuples differ in their last element, so the two hashes of the pair
  // are independent.
  using Tuple = std::tuple<absl::string_view, absl::string_view, int>;
  const uint64_t first = absl::Hash<Tuple>{}({model_id, prediction_id, 1});
  const uint64_t second = absl::Hash<Tuple>{}({model_id, prediction_id, 2});
  return IdKey{static_cast<uint32_t>(first >> 32), static_cast<uint32_t>(first),
               static_cast<uint32_t>(second)};
}

uint32_t ToIndexSeconds(absl::Time t) {
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  if (since_epoch <= absl::ZeroDuration()) return 0;
  const int64_t seconds =
      absl::ToInt64Seconds(absl::Ceil(since_epoch, absl::Seconds(1)));
  return static_cast<uint32_t>(
      std::min<int64_t>(seconds, std::numeric_limits<uint32_t>::max()));
}

absl::Time FromIndexSeconds(uint32_t seconds) {
  return absl::FromUnixSeconds(seconds);
}

}  // namespace vigie::storage
