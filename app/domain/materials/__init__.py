"""Materials (材料): the documents behind an application — checking what arrives (``files``) and who
may add and read them (``attachments``). The bytes live in an object store (``app/storage``)."""
