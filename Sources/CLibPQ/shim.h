#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H

// libpq, plus the Linux readiness primitives the event loop waits on.
#include <libpq-fe.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#endif
