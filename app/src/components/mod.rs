pub mod form;
pub mod layout;
pub mod live;
pub mod page;
pub mod reauth;
pub mod review;
pub mod status;
