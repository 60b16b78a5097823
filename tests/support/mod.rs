pub mod velero_driver;
