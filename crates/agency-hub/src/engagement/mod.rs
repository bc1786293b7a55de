//! What keeps clients coming back to the store: wishlists (and, as they come, reviews,
//! recommendations and experiments).

pub mod experiments;
pub mod recommendations;
pub mod reviews;
pub mod wishlist;
