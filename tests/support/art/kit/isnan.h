// OpenjdkJvm.cc calls isnan unqualified; with glibc's <cmath> only std::isnan is declared.
#pragma once
#include <cmath>
using std::isnan;
