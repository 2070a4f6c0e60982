"""The recorder simulator: fake body-worn recorders for tests, demo and benchmarks (DESIGN.md §6).

``devices.sim.cards`` makes media and card images; ``devices.sim.device`` is one recorder (its
GA/T 947.4 session, storage and faults), ``devices.sim.clock`` its drifting clock,
``devices.sim.usbbus`` the pyusb backend it docks on, and ``devices.sim.recorder`` makes
ready-made recorders and fleets.

It behaves like hardware where the station can tell:

- ``SimulatedUsbBackend`` is a pyusb backend (``usb.backend.IBackend``, as pyusb's own tests do)
  that enumerates recorders with real-looking device, configuration, interface and endpoint
  descriptors and string descriptors (manufacturer, product, serial; UTF-16, Chinese allowed).
  A recorder in GA/T 947.4 session mode shows a vendor-specific interface; after SetMSDC it
  re-enumerates (new address) with a mass-storage interface (0x08/0x06/0x50, bulk IN/OUT).
- ``SimulatedRecorder`` implements ``Gat947Transport``: ID code, ZFY_INFO, 6-byte password,
  a drifting clock (offset + drift ppm over an injected base clock), SetMSDC.
- Its storage is a directory, a FAT16/FAT32 image (optionally inside an MBR partition) or an exFAT
  image, laid out like a recorder card (``DCIM/100MEDIA/<date>_<time>_<serial>_<警号>.MP4``, Chinese
  long names, a GBK-only 8.3 name) with tiny real media made by ffmpeg: H.264/AAC MP4, MJPEG/PCM
  AVI, a JPEG photo, an A-law WAV, a corrupt file, a truncated MP4, a JPEG named .MP4, an empty
  file.
- Faults: a wrong password is just a different password; ``fail_read_after`` makes a stream raise
  ``OSError(EIO)`` after N bytes and unplugs the recorder; ``unplug()`` makes listing fail.

Media are generated once per directory (``media_library``) so a test session makes them once.
Images need ``mkfs.vfat``/``mtools`` (FAT), ``sfdisk`` (MBR) and ``mkfs.exfat`` (exFAT); media need
the ffmpeg binary the media stage uses, passed in by the caller (``ingest.media.find_ffmpeg``:
Debian's, else the imageio-ffmpeg wheel's), so the demo's clips are real on any machine.
"""
