pub mod form;
pub mod layout;
pub mod live;
pub mod status;
pub mod reauth;
