//! Fashion-MNIST: finding, reading and checking the four IDX `.gz` files.

/// Pixels per image (28 × 28).
pub const IMAGE_PIXELS: usize = 784;
/// Number of classes.
pub const NUM_CLASSES: usize = 10;
/// Images at the end of the training file that Keras's `validation_split = 1/6` holds out.
pub const VALIDATION_IMAGES: usize = 10_000;

/// Class names in label order, as the Fashion-MNIST README gives them.
pub const CLASS_NAMES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A set of images with their labels, pixels as raw `u8` (row-major, 784 per image).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    /// `len() * 784` raw pixels.
    pub images: Vec<u8>,
    /// One label in `0..10` per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The raw pixels of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }
}
