#pragma once

#include <string>

#include "google/protobuf/message.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"

namespace vigie::testutil {

// Whether two messages are equal field by field, doubles to a relative
// 1e-12 (sums of the same doubles added in another order differ in their
// last bits); the differences go to *report.
inline bool ApproximatelyEqual(const google::protobuf::Message& a,
                               const google::protobuf::Message& b,
                               std::string* report) {
  google::protobuf::util::MessageDifferencer differ;
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_float_comparison(
      google::protobuf::util::DefaultFieldComparator::APPROXIMATE);
  comparator.SetDefaultFractionAndMargin(1e-12, 1e-15);
  differ.set_field_comparator(&comparator);
  report->clear();
  differ.ReportDifferencesToString(report);
  return differ.Compare(a, b);
}

}  // namespace vigie::testutil
