/*
** devices/usb/usb.h -- USB discovery over libusb-1.0, shared by every chip
** (Xylo HDKs, Dynap-SE2 boards). Owns: a discovery session (lp_usb) that
** enumerates the bus through libusb, or through a device list injected by
** the host (specs: no hardware needed), and reports per device its ids,
** bus and port path, whether it could be opened (permissions) and its
** string descriptors when it could. Not here: which ids belong to which kit
** and the notes shown to users (devices/usb/init.lua, from reference/usb.md),
** the Lua face (lua/l_usb.c). Nothing here needs root: a device that cannot
** be opened is reported with its libusb error, never skipped or fatal.
*/
#ifndef LIMPET_USB_H
#define LIMPET_USB_H

#include "limpet/core.h"

#define LP_USB_MAXPORTS 8
#define LP_USB_STRLEN   128

/* What opening the device gave (libusb_open). */
typedef enum lp_usb_open {
  LP_USB_OPEN_OK = 0,      /* opened: the strings below were read            */
  LP_USB_OPEN_ACCESS,      /* LIBUSB_ERROR_ACCESS: no permission (udev rule)  */
  LP_USB_OPEN_BUSY,        /* LIBUSB_ERROR_BUSY                               */
  LP_USB_OPEN_GONE,        /* LIBUSB_ERROR_NO_DEVICE: unplugged meanwhile     */
  LP_USB_OPEN_OTHER        /* any other libusb error                          */
} lp_usb_open;

/* One device as libusb shows it. For an injected device, `open` is what
   libusb_open would return; the strings are kept only when it is
   LP_USB_OPEN_OK (an unopened device's strings cannot be read). */
typedef struct lp_usb_info {
  uint16_t vid, pid;
  uint8_t bus, address;
  uint8_t ports[LP_USB_MAXPORTS];       /* port numbers from the root hub */
  int nports;
  lp_usb_open open;
  char error[48];                       /* libusb's error name when not OK */
  char manufacturer[LP_USB_STRLEN], product[LP_USB_STRLEN], serial[LP_USB_STRLEN];
} lp_usb_info;

typedef struct lp_usb lp_usb;

lp_status lp_usb_new(lp_ctx *ctx, lp_usb **out);
void      lp_usb_free(lp_usb *u);                 /* NULL is a no-op */

/* Use `list` (n entries, copied) instead of libusb from now on: the
   injection hook for tests. n == 0 is an empty bus; n < 0 goes back to
   libusb. */
lp_status lp_usb_inject(lp_usb *u, const lp_usb_info *list, int n);

/* Devices whose vendor id is one of vids[0..nv-1] (nv == 0: every device);
   only those are opened to read their strings. *out (n entries, possibly 0)
   is freed with lp_usb_list_free. When libusb cannot start (no USB in this
   environment) the list is empty and note says why; otherwise note is "". */
lp_status lp_usb_list(lp_usb *u, const uint16_t *vids, int nv, lp_usb_info **out, int *n,
                      char *note, size_t notelen);
void      lp_usb_list_free(lp_usb *u, lp_usb_info *list);

#endif
