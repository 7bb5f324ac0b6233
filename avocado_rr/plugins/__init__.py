"""Avocado plugins of avocado-rr.

* :mod:`.init`: the ``[replay]`` settings section;
* :mod:`.jobprepost`: hands those settings to the tests;
* :mod:`.cli`: ``avocado replay-dump``, ``avocado replay-assets`` and the
  ``--replay-*`` options of ``avocado run``;
* :mod:`.summary`: the replay summary of a job (table, JSON, SVG);
* :mod:`.resolver` and :mod:`.runner`: the ``avocado-rr-instrumented``
  kind of test: avocado-instrumented, run with fewer status messages.

They are registered as entry points in setup.py.
"""
