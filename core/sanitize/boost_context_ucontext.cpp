// The sanitizer build only (PAGESIM_SANITIZE, `make test-sanitize`): the out-of-line part of
// Boost.Context's ucontext fibers.
//
// Under AddressSanitizer, Boost.Context has to run on ucontext with BOOST_USE_ASAN
// (boost/context/fiber_ucontext.hpp then tells ASan of every stack switch). That header
// declares a few functions which Boost defines in its library (libs/context/src/fiber.cpp,
// built only with BOOST_USE_UCONTEXT); Debian's libboost_context is built for fcontext and
// lacks them. These definitions follow Boost 1.74's libs/context/src/fiber.cpp:
//
//          Copyright Oliver Kowalke 2017.
// Distributed under the Boost Software License, Version 1.0.
//    (See accompanying file LICENSE_1_0.txt or copy at
//          http://www.boost.org/LICENSE_1_0.txt)
#if !defined(BOOST_USE_UCONTEXT) || !defined(BOOST_USE_ASAN)
#error "compiled only into the sanitizer build, which defines BOOST_USE_UCONTEXT and BOOST_USE_ASAN"
#endif

#include <boost/context/fiber.hpp>

#include <cstddef>

namespace boost {
namespace context {
namespace detail {

namespace {
// The running context's record, per thread; zero-initialised.
thread_local fiber_activation_record* current_record;
// A Schwarz counter: the thread's own (main) context record lives while it is non-zero.
thread_local std::size_t initializers;
}  // namespace

fiber_activation_record_initializer::fiber_activation_record_initializer() noexcept {
  if (initializers++ == 0) current_record = new fiber_activation_record();
}

fiber_activation_record_initializer::~fiber_activation_record_initializer() {
  if (--initializers == 0) {
    BOOST_ASSERT(current_record->is_main_context());
    delete current_record;
    current_record = nullptr;
  }
}

fiber_activation_record*& fiber_activation_record::current() noexcept {
  // The thread's main context record: made when control first passes here, freed when the
  // thread exits.
  thread_local static fiber_activation_record_initializer initializer;
  return current_record;
}

}  // namespace detail
}  // namespace context
}  // namespace boost
