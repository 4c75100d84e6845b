use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "baby_names")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub index: i32,
    pub year_of_birth: i32,
    pub gender: Gender,
    pub ethnicity: Ethnicity,
    pub first_name: String,
    pub first_name_lower: String,
    pub count: i32,
    pub rank: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum Gender {
    #[sea_orm(string_value = "FEMALE")]
    Female,
    #[sea_orm(string_value = "MALE")]
    Male,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum Ethnicity {
    #[sea_orm(string_value = "ASIAN AND PACIFIC ISLANDER")]
    AsianAndPacificIslander,
    #[sea_orm(string_value = "BLACK NON HISPANIC")]
    BlackNonHispanic,
    #[sea_orm(string_value = "HISPANIC")]
    Hispanic,
    #[sea_orm(string_value = "WHITE NON HISPANIC")]
    WhiteNonHispanic,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
