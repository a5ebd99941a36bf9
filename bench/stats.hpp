// Summaries of repeated measurements.
#pragma once

#include <vector>

namespace anchord::bench {

// The median (the mean of the two middle values for an even count); 0 for none.
double median(std::vector<double> values);
// The nearest-rank percentile, p in (0, 100]; 0 for none.
double percentile(std::vector<double> values, double p);
double minimum(const std::vector<double>& values);
double maximum(const std::vector<double>& values);

}  // namespace anchord::bench
