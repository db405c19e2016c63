/*
** devices/usb/usb.c -- USB discovery over libusb-1.0 (declared in usb.h).
** Owns: the libusb context of a session, enumeration, opening each device
** of interest once to read its string descriptors, and the injected device
** list that replaces libusb in specs. Real and injected devices go through
** the same filtering and string rules, so specs exercise the same code.
** libusb is started on first use and only when a real bus is listed; a
** failure to start (no /dev/bus/usb in a container) gives an empty list and
** a note, never an error.
*/
#include "usb.h"
#include <libusb.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

struct lp_usb {
  lp_ctx *ctx;
  libusb_context *lusb;      /* NULL until the first real listing */
  int lusb_failed;           /* libusb_init failed: remember, do not retry each call */
  char lusb_error[64];
  lp_usb_info *fake;         /* injected devices; used when injected != 0 */
  int nfake, injected;
};

lp_status lp_usb_new(lp_ctx *ctx, lp_usb **out) {
  lp_usb *u = lp_ctx_alloc(ctx, sizeof *u);
  *out = NULL;
  if (!u) return LP_ENOMEM;
  u->ctx = ctx;
  *out = u;
  return LP_OK;
}

void lp_usb_free(lp_usb *u) {
  if (!u) return;
  if (u->lusb) libusb_exit(u->lusb);
  if (u->fake) lp_ctx_dealloc(u->ctx, u->fake, (size_t)u->nfake * sizeof *u->fake);
  lp_ctx_dealloc(u->ctx, u, sizeof *u);
}

lp_status lp_usb_inject(lp_usb *u, const lp_usb_info *list, int n) {
  lp_usb_info *copy = NULL;
  if (n > 0) {
    copy = lp_ctx_alloc(u->ctx, (size_t)n * sizeof *copy);
    if (!copy) return LP_ENOMEM;
    memcpy(copy, list, (size_t)n * sizeof *copy);
  }
  if (u->fake) lp_ctx_dealloc(u->ctx, u->fake, (size_t)u->nfake * sizeof *u->fake);
  u->fake = copy;
  u->nfake = n > 0 ? n : 0;
  u->injected = n >= 0;
  return LP_OK;
}

/* Result arrays carry their byte size in front (lp_ctx_dealloc needs it). */
typedef union { size_t bytes; max_align_t align; } list_head;

static lp_usb_info *list_alloc(lp_usb *u, size_t n) {
  size_t bytes = sizeof(list_head) + n * sizeof(lp_usb_info);
  list_head *h = lp_ctx_alloc(u->ctx, bytes);
  if (!h) return NULL;
  h->bytes = bytes;
  return (lp_usb_info *)(h + 1);
}

static int wanted(uint16_t vid, const uint16_t *vids, int nv) {
  int i;
  if (nv == 0) return 1;
  for (i = 0; i < nv; i++) if (vids[i] == vid) return 1;
  return 0;
}

static lp_usb_open open_kind(int err) {
  switch (err) {
    case LIBUSB_SUCCESS: return LP_USB_OPEN_OK;
    case LIBUSB_ERROR_ACCESS: return LP_USB_OPEN_ACCESS;
    case LIBUSB_ERROR_BUSY: return LP_USB_OPEN_BUSY;
    case LIBUSB_ERROR_NO_DEVICE: return LP_USB_OPEN_GONE;
    default: return LP_USB_OPEN_OTHER;
  }
}

/* The same rule for real and injected devices: strings only from an opened
   device, always NUL-terminated. */
static void settle(lp_usb_info *d) {
  d->manufacturer[LP_USB_STRLEN - 1] = d->product[LP_USB_STRLEN - 1] = d->serial[LP_USB_STRLEN - 1] = 0;
  d->error[sizeof d->error - 1] = 0;
  if (d->open != LP_USB_OPEN_OK) d->manufacturer[0] = d->product[0] = d->serial[0] = 0;
  else d->error[0] = 0;
  if (d->nports < 0) d->nports = 0;
  if (d->nports > LP_USB_MAXPORTS) d->nports = LP_USB_MAXPORTS;
}

static void read_string(libusb_device_handle *h, uint8_t index, char *buf) {
  int r;
  buf[0] = 0;
  if (index == 0) return;
  r = libusb_get_string_descriptor_ascii(h, index, (unsigned char *)buf, LP_USB_STRLEN);
  if (r < 0) buf[0] = 0;
  else buf[r < LP_USB_STRLEN ? r : LP_USB_STRLEN - 1] = 0;
}

static lp_status list_real(lp_usb *u, const uint16_t *vids, int nv, lp_usb_info **out, int *n,
                           char *note, size_t notelen) {
  libusb_device **devs = NULL;
  ssize_t cnt, i;
  lp_usb_info *res;
  int k = 0;
  if (!u->lusb && !u->lusb_failed) {
    int r = libusb_init(&u->lusb);
    if (r != LIBUSB_SUCCESS) {
      u->lusb = NULL;
      u->lusb_failed = 1;
      snprintf(u->lusb_error, sizeof u->lusb_error, "%s", libusb_error_name(r));
    }
  }
  if (!u->lusb) {
    snprintf(note, notelen, "libusb could not start (%s): no USB bus is visible here", u->lusb_error);
    return LP_OK;
  }
  cnt = libusb_get_device_list(u->lusb, &devs);
  if (cnt < 0) {
    snprintf(note, notelen, "libusb could not list the bus (%s)", libusb_error_name((int)cnt));
    return LP_OK;
  }
  res = cnt > 0 ? list_alloc(u, (size_t)cnt) : NULL;
  if (cnt > 0 && !res) { libusb_free_device_list(devs, 1); return LP_ENOMEM; }
  for (i = 0; i < cnt; i++) {
    struct libusb_device_descriptor dd;
    libusb_device_handle *h = NULL;
    lp_usb_info *d = &res[k];
    int r;
    if (libusb_get_device_descriptor(devs[i], &dd) != LIBUSB_SUCCESS) continue;
    if (!wanted(dd.idVendor, vids, nv)) continue;
    memset(d, 0, sizeof *d);
    d->vid = dd.idVendor;
    d->pid = dd.idProduct;
    d->bus = libusb_get_bus_number(devs[i]);
    d->address = libusb_get_device_address(devs[i]);
    r = libusb_get_port_numbers(devs[i], d->ports, LP_USB_MAXPORTS);
    d->nports = r > 0 ? r : 0;
    r = libusb_open(devs[i], &h);
    d->open = open_kind(r);
    if (r == LIBUSB_SUCCESS) {
      read_string(h, dd.iManufacturer, d->manufacturer);
      read_string(h, dd.iProduct, d->product);
      read_string(h, dd.iSerialNumber, d->serial);
      libusb_close(h);
    } else {
      snprintf(d->error, sizeof d->error, "%s", libusb_error_name(r));
    }
    settle(d);
    k++;
  }
  libusb_free_device_list(devs, 1);
  *out = res;
  *n = k;
  return LP_OK;
}

lp_status lp_usb_list(lp_usb *u, const uint16_t *vids, int nv, lp_usb_info **out, int *n,
                      char *note, size_t notelen) {
  int i, k = 0;
  lp_usb_info *res;
  *out = NULL;
  *n = 0;
  if (notelen > 0) note[0] = 0;
  if (!u->injected) return list_real(u, vids, nv, out, n, note, notelen);
  if (u->nfake == 0) return LP_OK;
  res = list_alloc(u, (size_t)u->nfake);
  if (!res) return LP_ENOMEM;
  for (i = 0; i < u->nfake; i++) {
    if (!wanted(u->fake[i].vid, vids, nv)) continue;
    res[k] = u->fake[i];
    settle(&res[k]);
    k++;
  }
  *out = res;
  *n = k;
  return LP_OK;
}

void lp_usb_list_free(lp_usb *u, lp_usb_info *list) {
  list_head *h;
  if (!list) return;
  h = (list_head *)list - 1;
  lp_ctx_dealloc(u->ctx, h, h->bytes);
}
