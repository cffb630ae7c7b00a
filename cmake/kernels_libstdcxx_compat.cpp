// Keeps a kernel library within manylinux_2_28's libstdc++ (GLIBCXX_3.4.24, GCC 8).
//
// Since GCC 9 the default constructors of the string streams are separate functions, exported
// by libstdc++.so with the version GLIBCXX_3.4.26; code that default-constructs a
// std::ostringstream (TVM FFI's error messages do, so do many kernels) binds to them and no
// longer loads with an older libstdc++. Instantiating them here puts a copy inside the library
// itself, so the link resolves them locally and the library needs no GLIBCXX_3.4.26.
// (What libstdc++_nonshared.a does for the manylinux images' devtoolset compilers.)
#include <sstream>

#if defined(__GLIBCXX__) && defined(_GLIBCXX_RELEASE) && _GLIBCXX_RELEASE >= 9
template std::basic_stringbuf<char>::basic_stringbuf();
template std::basic_istringstream<char>::basic_istringstream();
template std::basic_ostringstream<char>::basic_ostringstream();
template std::basic_stringstream<char>::basic_stringstream();
#endif
