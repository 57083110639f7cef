"""Reading chest X-ray studies: PNG, JPEG and DICOM into one image type."""
